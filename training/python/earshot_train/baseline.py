"""The classical anchor of issue 28: utterance functionals + an RBF SVM, scored on the same
protocols as the networks (leave one corpus out, RAVDESS 5 folds with the other corpora in
training, nEMO leave one speaker out), so every network figure has a classical one beside it.

Features: the functionals of functionals.py (per-band log-mel means and spreads, cepstra 1-12, RMS,
ZCR, f0 and voicing statistics over the VAD speech spans) of the daemon's own frontend, about 150
per clip; each speaker's functionals z-normalised by that speaker's own statistics (label-free),
either over all of the speaker's clips (`offline`) or causally, over the clips heard so far in a
seeded random order as a device hears them (`causal`; the first WARMUP-1 clips against the training
set's statistics). Training clips weighted as earshot_train --balance corpus draws them: corpora by
sqrt(clips x speakers), each corpus's classes equally. A held-out clip's answer is the arg max of
the SVM's scores over the labels its corpus has.

    PYTHONPATH=training/python /usr/bin/python3 -m earshot_train.baseline \\
        --features build/train/features/{ravdess,emodb,emotiontts-kr,nemo,tess}-KEY-vadcascade \\
        --protocols loco,folds,loso-nemo --report build/baseline.json
"""
import argparse
import json

import numpy as np
from sklearn.svm import SVC

from .data import EMOTIONS, corpus_shares, load_feature_dirs, speaker_key
from .functionals import CLIP, matrix

HIGH_AROUSAL = {'happy', 'angry', 'fearful', 'disgust', 'surprised'}  # src/core/affect.ts
FOLDS = [['%02d' % a for a in range(s, s + 4)] for s in (1, 5, 9, 13, 17)]
WARMUP = 3


def speaker_offline(X, items):
    """Each speaker's functionals against that speaker's mean and spread over all of its clips."""
    X = X.copy()
    keys = np.array([speaker_key(i) for i in items])
    for k in np.unique(keys):
        m = keys == k
        X[m] = (X[m] - X[m].mean(0)) / np.sqrt(X[m].var(0) + 1e-6)
    return np.clip(X, -CLIP, CLIP)


def speaker_causal(X, items, ref, seed=1):
    """Clip k of a speaker (seeded random order) against the speaker's clips 0..k; the first
    WARMUP-1 clips against the training statistics `ref` (mean, sd), as a baseline still warming up."""
    out = np.empty_like(X)
    keys = np.array([speaker_key(i) for i in items])
    rng = np.random.default_rng(seed)
    for k in np.unique(keys):
        idx = rng.permutation(np.flatnonzero(keys == k))
        for n, j in enumerate(idx):
            seen = X[idx[:n + 1]]
            out[j] = (X[j] - ref[0]) / ref[1] if n + 1 < WARMUP else (X[j] - seen.mean(0)) / np.sqrt(seen.var(0) + 1e-6)
    return np.clip(out, -CLIP, CLIP)


def sample_weights(items):
    """earshot_train's --balance corpus as weights: corpus share by sqrt(clips x speakers), classes equal."""
    corpora = sorted({i['corpus'] for i in items})
    count = {}
    for i in items:
        count[(i['corpus'], i['label'])] = count.get((i['corpus'], i['label']), 0) + 1
    raw = corpus_shares({c: (sum(v for (cc, _), v in count.items() if cc == c), len({i['speaker'] for i in items if i['corpus'] == c})) for c in corpora})
    classes = {c: len({l for cc, l in count if cc == c}) for c in corpora}
    w = np.array([raw[i['corpus']] / classes[i['corpus']] / count[(i['corpus'], i['label'])] for i in items])
    return w * len(w) / w.sum()


def arousal_uar(truth_high, pred_high):
    """Binary UAR of high against low arousal."""
    t, p = np.asarray(truth_high), np.asarray(pred_high)
    return float(np.mean([np.mean(p[m] == t[m]) for m in (t, ~t) if m.any()]))


def scores(truth, pred, labels):
    """Accuracy, UAR and per-class recall over `labels`; binary arousal UAR (src/core/affect.ts)."""
    t, p = np.array(truth), np.array(pred)
    recall = {l: float(np.mean(p[t == l] == l)) for l in labels if np.any(t == l)}
    return {'accuracy': float(np.mean(t == p)), 'uar': float(np.mean(list(recall.values()))), 'recall': recall,
            'arousalUar': arousal_uar(np.isin(t, list(HIGH_AROUSAL)), np.isin(p, list(HIGH_AROUSAL))), 'n': int(len(t))}


def run(items, X, train_mask, test_mask, norm, C, seed=1, direct_arousal=False):
    """Train on train_mask, answer test_mask over the labels the test corpus has (and training knows).
    `direct_arousal`: also train an SVM on high/low arousal itself (the same weights) and score it
    beside the arousal mapped from the categories (issue 28 item 5: a learned arousal or the mapping)."""
    tr = [i for i, m in zip(items, train_mask) if m]
    te = [i for i, m in zip(items, test_mask) if m]
    Xtr = speaker_offline(X[train_mask], tr)
    if norm == 'causal':
        ref = (X[train_mask].mean(0), X[train_mask].std(0) + 1e-6)
        Xte = speaker_causal(X[test_mask], te, ref, seed)
    else:
        Xte = speaker_offline(X[test_mask], te)
    ytr = np.array([EMOTIONS.index(i['label']) for i in tr])
    clf = SVC(kernel='rbf', C=C, gamma='scale', decision_function_shape='ovr').fit(Xtr, ytr, sample_weight=sample_weights(tr))
    known = {EMOTIONS[c] for c in clf.classes_}
    has = sorted({i['label'] for i in te} & known, key=EMOTIONS.index)
    keep = np.array([i['label'] in has for i in te])
    cols = [list(clf.classes_).index(EMOTIONS.index(l)) for l in has]
    d = clf.decision_function(Xte[keep])[:, cols]
    pred = [has[k] for k in np.argmax(d, 1)]
    out = scores([i['label'] for i, k in zip(te, keep) if k], pred, has)
    if direct_arousal:
        high = np.array([i['label'] in HIGH_AROUSAL for i in tr])
        direct = SVC(kernel='rbf', C=C, gamma='scale').fit(Xtr, high, sample_weight=sample_weights(tr))
        out['arousalUarDirect'] = arousal_uar([i['label'] in HIGH_AROUSAL for i in te], direct.predict(Xte).astype(bool))
    return out


def pooled(parts):
    """Per-fold results pooled over clips (accuracy, UAR over the pooled confusion) and the fold mean."""
    n = sum(p['n'] for p in parts)
    out = {'accuracy': sum(p['accuracy'] * p['n'] for p in parts) / n, 'accuracyMean': float(np.mean([p['accuracy'] for p in parts])),
           'uar': float(np.mean([p['uar'] for p in parts])), 'arousalUar': float(np.mean([p['arousalUar'] for p in parts])),
           'folds': parts, 'n': n}
    if all('arousalUarDirect' in p for p in parts):
        out['arousalUarDirect'] = float(np.mean([p['arousalUarDirect'] for p in parts]))
    return out


def line(r, acc):
    direct = f' (trained on arousal itself: {100 * r["arousalUarDirect"]:.1f})' if 'arousalUarDirect' in r else ''
    return f'acc {100 * r[acc]:.1f} UAR {100 * r["uar"]:.1f} arousal {100 * r["arousalUar"]:.1f}{direct}'


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--features', nargs='+', required=True, help='feature folders, one per corpus (earshot features --corpus K --vad)')
    ap.add_argument('--protocols', default='loco,folds,loso-nemo')
    ap.add_argument('--norm', default='offline,causal', help='speaker normalisation of the test speakers: offline, causal or both')
    ap.add_argument('--C', type=float, default=3.0)
    ap.add_argument('--direct-arousal', action='store_true', help='also train on high/low arousal itself and score it beside the mapped arousal')
    ap.add_argument('--report')
    a = ap.parse_args(argv)
    fs = load_feature_dirs(a.features, log=lambda *_: None)
    items = fs.items
    X, _ = matrix(items, fs.feature_names)
    corpus = np.array([i['corpus'] for i in items])
    speaker = np.array([i['speaker'] for i in items])
    out = {'C': a.C, 'functionals': int(X.shape[1]), 'clips': {c: int((corpus == c).sum()) for c in sorted(set(corpus))}}
    for norm in a.norm.split(','):
        res = out.setdefault(norm, {})
        for p in a.protocols.split(','):
            if p == 'loco':
                for c in sorted(set(corpus) - {'tess'}):
                    r = run(items, X, corpus != c, corpus == c, norm, a.C, direct_arousal=a.direct_arousal)
                    res[f'{c}-leave-one-corpus-out'] = r
                    print(f'[{norm}] loco {c}: {line(r, "accuracy")} (n={r["n"]})', flush=True)
            elif p == 'folds':
                held = [(corpus == 'ravdess') & np.isin(speaker, f) for f in FOLDS]
                parts = [run(items, X, ~h, h, norm, a.C, direct_arousal=a.direct_arousal) for h in held]
                r = res['ravdess-speaker-independent'] = pooled(parts)
                print(f'[{norm}] RAVDESS folds: {line(r, "accuracyMean")}', flush=True)
            elif p.startswith('loso-'):
                c = p[5:]
                spk = sorted(set(speaker[corpus == c]))
                held = [(corpus == c) & (speaker == s) for s in spk]
                parts = [run(items, X, ~h, h, norm, a.C, direct_arousal=a.direct_arousal) for h in held]
                r = res[f'{c}-leave-one-speaker-out'] = pooled(parts)
                print(f'[{norm}] {c} leave one speaker out: {line(r, "accuracyMean")}', flush=True)
            else:
                raise SystemExit(f'baseline: unknown protocol {p} (loco, folds, loso-CORPUS)')
    if a.report:
        with open(a.report, 'w') as fh:
            json.dump(out, fh, indent=1)


if __name__ == '__main__':
    main()
