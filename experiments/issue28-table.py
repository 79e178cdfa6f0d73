#!/usr/bin/python3
"""The issue-28 table: each corpus x (leave one corpus out, leave speakers out, --mix-neutral 0.7)
for the new default, the old default and the classical baseline, from the JSON files the runs
wrote (commands in MODELS.md). Missing runs print as "not run".

    python3 experiments/issue28-table.py RUN_DIR EVAL_DIR BASELINE.json [PREV_RUN_DIR PREV_EVAL_DIR]
      RUN_DIR   earshot train --work W --name NAME: W/NAME (loco-C.eval.json, metrics.json)
      EVAL_DIR  earshot eval --json outputs: old-C-mix0.json, old-C-mix0.7.json, new-loco-C-mix0.7.json, and
                fold K / loso-C-SPK models scored outside the run (foldK.eval.json, loso-C-SPK.eval.json)
      PREV_*    the same two for the default the new one replaces (a row "previous default")
"""
import json
import os
import sys

CORPORA = [('ravdess', 'RAVDESS (English)'), ('emodb', 'EmoDB 03/08 (German)'), ('emotiontts-kr', 'emotiontts-kr (Korean)'), ('nemo', 'nEMO (Polish)')]


def load(path):
    return json.load(open(path)) if os.path.exists(path) else None


def pct(x):
    return f'{100 * x:.1f}'


def cell(r, arousal=True, ece=True):
    """'acc / UAR (arousal, ECE, worst class)' of an `earshot eval --json` report."""
    if r is None:
        return 'not run'
    worst = min(r['perClass'].items(), key=lambda kv: kv[1]['recall']) if 'perClass' in r else None
    parts = [f"{pct(r['accuracy'])} / {pct(r['uar'])}"]
    extra = []
    if arousal:
        extra.append(f"ar {pct(r['confidence']['arousalUar'])}")
    if ece:
        extra.append(f"ECE {pct(r['confidence']['ece'])}")
    if worst:
        extra.append(f'min {worst[0]} {pct(worst[1]["recall"])}')
    return parts[0] + (f" ({', '.join(extra)})" if extra else '')


def base_cell(b, key):
    if b is None or key not in b:
        return 'not run'
    r = b[key]
    acc = r.get('accuracyMean', r['accuracy'])
    worst = min(r['recall'].items(), key=lambda kv: kv[1]) if 'recall' in r else None
    return f"{pct(acc)} / {pct(r['uar'])} (ar {pct(r['arousalUar'])}{f', min {worst[0]} {pct(worst[1])}' if worst else ''})"


def leave_speakers_out(dirs, c):
    """Mean accuracy / UAR over the speaker (or fold) models: RAVDESS foldK.eval.json, another
    corpus from its loso-C-SPK.eval.json files (each model scored on the one speaker it never heard)."""
    prefix = 'fold' if c == 'ravdess' else f'loso-{c}-'
    found = {}
    for d in dirs:  # the run's own scoring first, then evaluations made beside it
        for f in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            if f.startswith(prefix) and f.endswith('.eval.json'):
                found.setdefault(f, os.path.join(d, f))
    if not found:
        return 'not run'
    rs = [load(p) for _, p in sorted(found.items())]
    mean = lambda k: sum(r[k] for r in rs) / len(rs)  # noqa: E731
    # loso-C-A+B+C: a group of speakers held out together (earshot train --protocols loso-C/K)
    unit = 'folds' if c == 'ravdess' else 'speaker groups' if any('+' in f for f in found) else 'speakers'
    return f"{pct(mean('accuracy'))} / {pct(mean('uar'))} ({len(rs)} {unit}, ar {pct(sum(r['confidence']['arousalUar'] for r in rs) / len(rs))})"


def network_row(name, label, run_dir, eval_dir, c):
    """One network's row: its leave-one-corpus-out model, its speaker models, its --mix-neutral 0.7 run."""
    loco = load(os.path.join(run_dir, f'loco-{c}.eval.json'))
    mix = load(os.path.join(eval_dir, f'new-loco-{c}-mix0.7.json'))
    return f'| {name} | {label} | {cell(loco)} | {leave_speakers_out([run_dir, eval_dir], c)} | {cell(mix, ece=False)} |'


def main():
    run_dir, eval_dir, baseline = sys.argv[1:4]
    prev = sys.argv[4:6]
    b = load(baseline) or {}
    print('| corpus | model | leave one corpus out: acc / UAR | leave speakers out: acc / UAR | `--mix-neutral 0.7`: acc / UAR |')
    print('|---|---|---|---|---|')
    for c, name in CORPORA:
        print(network_row(name, '**new default**', run_dir, eval_dir, c))
        if prev:
            print(network_row(name, 'previous default', *prev, c))
        if c == 'ravdess':
            print(f'| {name} | old default | trained on it: see leave speakers out | 67.5 / 67.0 (5 folds) | not run (its fold models are not kept) |')
        else:
            print(f"| {name} | old default | {cell(load(os.path.join(eval_dir, f'old-{c}-mix0.json')))} | n/a | "
                  f"{cell(load(os.path.join(eval_dir, f'old-{c}-mix0.7.json')), ece=False)} |")
        lso_b = 'ravdess-speaker-independent' if c == 'ravdess' else f'{c}-leave-one-speaker-out'
        print(f"| {name} | classical baseline (offline / causal speaker norm) | {base_cell(b.get('offline'), f'{c}-leave-one-corpus-out')} / "
              f"{base_cell(b.get('causal'), f'{c}-leave-one-corpus-out')} | "
              f"{base_cell(b.get('offline'), lso_b)} / {base_cell(b.get('causal'), lso_b)} | n/a |")


if __name__ == '__main__':
    main()
