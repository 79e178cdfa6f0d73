"""Utterance functionals over the daemon's frame features, and a classical classifier on them:
the issue-15 question "do speaker-normalised prosodic functionals add what the network does not
learn?", measured the way every other row of MODELS.md is (speaker-independent RAVDESS folds,
EmoDB 03+08 and the Korean set on shared labels).

Input: feature folders written by `earshot features --corpus KIND --vad cascade` with the shipped
member's frontend (40 log-mel + RMS + ZCR + f0 + voicing). Only the VAD speech spans of a clip are
used, as the daemon would classify them.

    PYTHONPATH=training/python /usr/bin/python3 -m earshot_train.functionals --ravdess build/func/ravdess \
        --extra build/func/emodb build/func/emotiontts-kr --norm speaker
"""
import argparse
import json
import os

import numpy as np
from sklearn.svm import SVC
from sklearn.linear_model import LogisticRegression

from .data import EMOTIONS, load_feature_dirs, speaker_key

CLIP = 6  # bound of a normalised functional (src/runtime/model/functional-head.ts FUNCTIONAL_CLIP)
FOLDS = [['%02d' % a for a in range(s, s + 4)] for s in (1, 5, 9, 13, 17)]
VOICED = 0.5  # voicing (normalised cross-correlation peak) above which a frame's f0 counts


def speech_frames(item):
    x = item['x']
    spans = item.get('speech') or [[0, len(x)]]
    parts = [x[a:b] for a, b in spans if b > a]
    return np.concatenate(parts) if parts else x


def stats(v, prefix):
    """mean, spread, percentiles, range, slope over time and mean absolute change of one track."""
    if len(v) < 3:
        v = np.zeros(3, np.float32)
    p10, p50, p90 = np.percentile(v, [10, 50, 90])
    t = np.linspace(-1, 1, len(v))
    slope = float(np.dot(t - t.mean(), v - v.mean()) / max(np.dot(t - t.mean(), t - t.mean()), 1e-9))
    return {f'{prefix}_mean': v.mean(), f'{prefix}_std': v.std(), f'{prefix}_p10': p10, f'{prefix}_p50': p50,
            f'{prefix}_p90': p90, f'{prefix}_range': p90 - p10, f'{prefix}_slope': slope,
            f'{prefix}_dabs': np.abs(np.diff(v)).mean()}


def functionals(item, names):
    x = speech_frames(item)
    col = {n: i for i, n in enumerate(names)}
    mel = x[:, [col[f'mel{k}'] for k in range(40)]]
    out = {}
    for k in range(40):
        out[f'mel{k}_mean'] = mel[:, k].mean()
        out[f'mel{k}_std'] = mel[:, k].std()
    # cepstra of the log-mel frames (DCT-II, 1..12): spectral envelope shape, level-free
    n = np.arange(40)
    dct = np.cos(np.pi / 40 * (n + 0.5)[None, :] * np.arange(1, 13)[:, None])
    cep = mel @ dct.T
    for k in range(12):
        out[f'cep{k + 1}_mean'] = cep[:, k].mean()
        out[f'cep{k + 1}_std'] = cep[:, k].std()
        out[f'cep{k + 1}_dabs'] = np.abs(np.diff(cep[:, k])).mean() if len(cep) > 1 else 0.0
    dmel = np.abs(np.diff(mel, axis=0)).mean(axis=0) if len(mel) > 1 else np.zeros(40)
    for k in range(0, 40, 4):
        out[f'dmel{k}'] = dmel[k:k + 4].mean()
    loud = np.log(np.maximum(x[:, col['rms']], 1e-5))
    out.update(stats(loud, 'loud'))
    out.update(stats(x[:, col['zcr']], 'zcr'))
    voiced = x[:, col['voicing']] > VOICED
    f0 = x[voiced, col['f0']]
    semis = 12 * np.log2(np.maximum(f0, 30) / 55.0) if len(f0) else np.zeros(3)
    out.update(stats(semis, 'f0st'))
    # jitter-like: frame-to-frame pitch change between consecutive voiced frames, in semitones
    both = voiced[1:] & voiced[:-1]
    st_all = 12 * np.log2(np.maximum(x[:, col['f0']], 30) / 55.0)
    out['f0_jitter'] = np.abs(np.diff(st_all))[both].mean() if both.any() else 0.0
    # shimmer-like: the same for loudness over voiced frames
    out['loud_shimmer'] = np.abs(np.diff(loud))[both].mean() if both.any() else 0.0
    out['voiced_frac'] = voiced.mean()
    out['voicing_mean'] = x[:, col['voicing']].mean()
    onsets = np.sum(voiced[1:] & ~voiced[:-1])
    out['voiced_rate'] = onsets / max(len(x) / 100.0, 0.1)  # voiced segments per second
    out['speech_sec'] = len(x) / 100.0
    # spectral balance on voiced frames: low (bands 0-13) minus high (bands 26-39) log energy,
    # and the regression slope over the bands (alpha-ratio / Hammarberg-like)
    vm = mel[voiced] if voiced.sum() > 2 else mel
    out['balance'] = vm[:, :14].mean() - vm[:, 26:].mean()
    bands = np.arange(40) - 19.5
    out['spec_slope'] = float(np.dot(vm.mean(axis=0) - vm.mean(), bands) / np.dot(bands, bands))
    out['spec_slope_std'] = float(np.std((vm - vm.mean(axis=1, keepdims=True)) @ bands / np.dot(bands, bands)))
    return out


def matrix(items, names):
    rows = [functionals(i, names) for i in items]
    keys = list(rows[0].keys())
    return np.array([[r[k] for k in keys] for r in rows], np.float64), keys


def normalise(X, items, how, ref=None):
    """speaker: z-score each functional by the speaker's own mean and spread over all of the
    speaker's clips (label-free); global: by the training set's (ref) statistics."""
    X = X.copy()
    if how == 'speaker':
        keys = np.array([speaker_key(i) for i in items])
        for k in np.unique(keys):
            m = keys == k
            X[m] = (X[m] - X[m].mean(axis=0)) / np.sqrt(X[m].var(axis=0) + 1e-6)
    else:
        mu, sd = ref if ref is not None else (X.mean(axis=0), X.std(axis=0) + 1e-6)
        X = (X - mu) / sd
    return np.clip(X, -CLIP, CLIP)


def skewed_copies(X, y, items, copies, seed=1):
    """Training rows normalised as a device's baseline may be: besides every speaker's clips against
    all of the speaker's clips, `copies` more per speaker against the statistics of a skewed subset
    (the clips of one or two random emotions plus a random quarter of the rest), so the head learns
    from baselines that heard a stretch of one mood. Returns the stacked rows and labels."""
    if copies <= 0:
        return normalise(X, items, 'speaker'), y
    rng = np.random.default_rng(seed)
    keys = np.array([speaker_key(i) for i in items])
    rows, labels = [normalise(X, items, 'speaker')], [y]
    for _ in range(copies):
        out = np.empty_like(X)
        for k in np.unique(keys):
            m = np.flatnonzero(keys == k)
            moods = rng.choice(np.unique(y[m]), size=rng.integers(1, 3), replace=False)
            pick = np.isin(y[m], moods) | (rng.random(len(m)) < 0.25)
            ref = X[m[pick]]
            out[m] = (X[m] - ref.mean(axis=0)) / np.sqrt(ref.var(axis=0) + 1e-6)
        rows.append(np.clip(out, -CLIP, CLIP))
        labels.append(y)
    return np.vstack(rows), np.concatenate(labels)


def normalise_online(X, items, warmup, seed, ref):
    """As a device would: each speaker's clips in a seeded random order, clip k normalised by the
    mean and spread of that speaker's clips before it once there are `warmup` of them (the
    baseline's statistics; a clip is classified before it joins), before that by the training
    set's statistics `ref`. Returns the normalised rows and a mask of the warm-up clips."""
    out, warm = np.empty_like(X), np.zeros(len(X), bool)
    keys = np.array([speaker_key(i) for i in items])
    rng = np.random.default_rng(seed)
    for k in np.unique(keys):
        idx = rng.permutation(np.flatnonzero(keys == k))
        for j, i in enumerate(idx):
            seen = X[idx[:j]]
            if j < warmup:
                out[i] = (X[i] - ref[0]) / ref[1]
                warm[i] = True
            else:
                out[i] = (X[i] - seen.mean(axis=0)) / np.sqrt(seen.var(axis=0) + 1e-6)
    return np.clip(out, -CLIP, CLIP), warm


def uar(y, p, labels):
    return float(np.mean([np.mean(p[y == c] == c) for c in labels if np.any(y == c)]))


def make(kind, C):
    if kind == 'svm':
        return SVC(C=C, kernel='rbf', gamma='scale', class_weight='balanced', decision_function_shape='ovr')
    return LogisticRegression(C=C, max_iter=2000, class_weight='balanced')


def run_folds(X, y, spk, kind, C, norm_items, norm):
    accs, uars, pred = [], [], np.empty_like(y)
    for fold in FOLDS:
        test = np.isin(spk, fold)
        if norm == 'global':
            mu, sd = X[~test].mean(axis=0), X[~test].std(axis=0) + 1e-6
            Xn = (X - mu) / sd
        else:
            Xn = X
        clf = make(kind, C).fit(Xn[~test], y[~test])
        p = clf.predict(Xn[test])
        pred[test] = p
        accs.append(np.mean(p == y[test]))
        uars.append(uar(y[test], p, np.unique(y)))
    return accs, uars, pred


def online_folds(rav, y, spk, a, C):
    Xr, _ = matrix(rav.items, rav.feature_names)
    accs, uars, warm_acc, rest_acc = [], [], [], []
    for fold in FOLDS:
        test = np.isin(spk, fold)
        tr_items = [it for it, t in zip(rav.items, test) if not t]
        te_items = [it for it, t in zip(rav.items, test) if t]
        Xtr = normalise(Xr[~test], tr_items, 'speaker')
        # the statistics over all training clips of the raw functionals: the warm-up fallback
        ref = (Xr[~test].mean(axis=0), Xr[~test].std(axis=0) + 1e-6)
        Xte, warm = normalise_online(Xr[test], te_items, a.online, 1, ref)
        clf = make(a.clf, C).fit(Xtr, y[~test])
        p = clf.predict(Xte)
        accs.append(np.mean(p == y[test]))
        uars.append(uar(y[test], p, np.unique(y)))
        warm_acc.append(np.mean(p[warm] == y[test][warm]) if warm.any() else np.nan)
        rest_acc.append(np.mean(p[~warm] == y[test][~warm]))
    print(f'  online (warm-up {a.online}): warm-up clips {100*np.nanmean(warm_acc):.1f}, the rest {100*np.mean(rest_acc):.1f}')
    return accs, uars


def fuse(rav, a, C):
    """Late fusion with a network's held-out probabilities (`earshot eval --json F --predictions`
    on a fold model): per fold, the functional classifier trained on the other actors, its
    probabilities averaged with the network's at fixed equal weight (nothing tuned on the fold)."""
    Xr, _ = matrix(rav.items, rav.feature_names)
    y = np.array([EMOTIONS.index(i['label']) for i in rav.items])
    names = np.array([i['name'] for i in rav.items])
    rows = []
    for path in a.fuse:
        with open(path) as fh:
            rep = json.load(fh)
        labels = [EMOTIONS.index(l) for l in rep['scoredLabels']]
        preds = {p['name']: p for p in rep['predictions']}
        test = np.isin(names, list(preds))
        tr_items = [it for it, t in zip(rav.items, test) if not t]
        te_items = [it for it, t in zip(rav.items, test) if t]
        Xtr, ytr = skewed_copies(Xr[~test], y[~test], tr_items, a.skewed)
        if a.online:
            ref = (Xr[~test].mean(axis=0), Xr[~test].std(axis=0) + 1e-6)
            Xte, _ = normalise_online(Xr[test], te_items, a.online, 1, ref)
        else:
            Xte = normalise(Xr[test], te_items, 'speaker')
        clf = (SVC(C=C, kernel='rbf', gamma='scale', class_weight='balanced', probability=True, random_state=1)
               if a.clf == 'svm' else make(a.clf, C)).fit(Xtr, ytr)
        pf = clf.predict_proba(Xte)[:, [list(clf.classes_).index(c) for c in labels]]
        pn = np.array([preds[n]['probabilities'] for n in names[test]])
        yt = y[test]
        lab = np.array(labels)
        res = {}
        for key, p in (('network', pn), ('functionals', pf), ('mean', (pn + pf) / 2),
                       ('geometric', np.exp((np.log(pn + 1e-9) + np.log(pf + 1e-9)) / 2))):
            pr = lab[np.argmax(p, axis=1)]
            res[key] = (float(np.mean(pr == yt)), uar(yt, pr, np.unique(yt)))
        # the head's weight in the mean (the runtime's fusionWeight), swept
        sweep, gsweep = {}, {}
        for w in a.weights:
            pr = lab[np.argmax((1 - w) * pn + w * pf, axis=1)]
            sweep[w] = float(np.mean(pr == yt))
            pr = lab[np.argmax((1 - w) * np.log(pn + 1e-9) + w * np.log(pf + 1e-9), axis=1)]
            gsweep[w] = float(np.mean(pr == yt))
        rows.append((path, int(test.sum()), res, sweep, gsweep))
        print(f'{os.path.basename(path)} ({test.sum()} clips): ' + ', '.join(f'{k} {100*v[0]:.1f} / {100*v[1]:.1f}' for k, v in res.items()))
        print('  head weight, mean ' + ', '.join(f'{w:g}: {100*v:.1f}' for w, v in sweep.items()))
        print('  head weight, geometric ' + ', '.join(f'{w:g}: {100*v:.1f}' for w, v in gsweep.items()))
    if len(rows) > 1:
        # each fold at the weight that is best on the other folds' clips (never chosen on its own)
        n = np.array([r[1] for r in rows])
        acc = np.array([[r[3][w] for w in a.weights] + [r[4][w] for w in a.weights] for r in rows])
        options = [f'mean {w:g}' for w in a.weights] + [f'geometric {w:g}' for w in a.weights]
        chosen = []
        for k in range(len(rows)):
            rest = [i for i in range(len(rows)) if i != k]
            pooled = (acc[rest] * n[rest, None]).sum(axis=0) / n[rest].sum()
            chosen.append(int(np.argmax(pooled)))
        picked = [acc[k, c] for k, c in enumerate(chosen)]
        pooled_all = (acc * n[:, None]).sum(axis=0) / n.sum()
        print(f'fusion chosen on the other folds: {" / ".join(options[c] for c in chosen)}, accuracy '
              f'{" / ".join(f"{100*v:.1f}" for v in picked)} (mean {100*np.mean(picked):.1f}); '
              f'best on all folds pooled: {options[int(np.argmax(pooled_all))]} ({100*np.max(pooled_all):.1f})')
    return rows


def export_head(rav, a):
    if a.clf != 'logreg':
        raise SystemExit('functionals.py: --export-head needs --clf logreg (the runtime computes a logistic regression)')
    held = [h for h in a.holdout.split(',') if h]
    # RAVDESS actors as before ("01"), or corpus:speaker keys ("nemo:EB0") for the other corpora
    train = [i for i in rav.items if speaker_key(i) not in held and not (i['corpus'] == 'ravdess' and i['speaker'] in held)]
    Xr, keys = matrix(train, rav.feature_names)
    y = np.array([EMOTIONS.index(i['label']) for i in train])
    clf = make('logreg', a.C[0]).fit(*skewed_copies(Xr, y, train, a.skewed))
    with open(a.export_head) as fh:
        meta = json.load(fh)
    rows = [list(clf.classes_).index(EMOTIONS.index(l)) for l in meta['labels']]
    speakers = sorted({speaker_key(i) for i in train})
    corpora = sorted({i['corpus'] for i in train})
    meta['functionalHead'] = {
        'kind': 'logistic',
        'functionals': keys,
        'weights': [[float(w) for w in clf.coef_[r]] for r in rows],
        'bias': [float(clf.intercept_[r]) for r in rows],
        'fusionWeight': a.fusion_weight,
        'fusion': a.fusion,
        'trainedOn': f'{"+".join(corpora)} speakers {",".join(speakers)} ({len(train)} clips, VAD speech spans), functionals '
                     f'z-normalised per speaker{f" (and {a.skewed} copies against emotion-skewed subsets)" if a.skewed else ""}, '
                     f'logistic regression C={a.C[0]} (class-balanced); earshot_train/functionals.py',
    }
    with open(a.export_head, 'w') as fh:
        json.dump(meta, fh, indent=2)
        fh.write('\n')
    print(f'wrote functionalHead ({len(keys)} functionals, {len(speakers)} speakers) into {a.export_head}')


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--ravdess', required=True, nargs='+', help='feature folders to train on (RAVDESS first; with --export-head any corpora)')
    ap.add_argument('--extra', nargs='*', default=[])
    ap.add_argument('--norm', choices=['speaker', 'global'], default='speaker')
    ap.add_argument('--clf', choices=['svm', 'logreg'], default='svm')
    ap.add_argument('--C', type=float, nargs='+', default=[1, 3, 10])
    ap.add_argument('--online', type=int, default=0, metavar='WARMUP',
                    help='held-out speakers normalised online (running statistics in a seeded random order), '
                         'global statistics for their first WARMUP-1 clips; training speakers as --norm')
    ap.add_argument('--fuse', nargs='*', default=[], metavar='EVAL_JSON',
                    help='late fusion with these `earshot eval --json F --predictions` reports of fold models')
    ap.add_argument('--export-head', metavar='MODEL_JSON',
                    help='train the functional head (--clf logreg, first --C) on the RAVDESS actors outside --holdout '
                         'and write it into MODEL_JSON as "functionalHead"')
    ap.add_argument('--holdout', default='', help='with --export-head: held-out RAVDESS actors, e.g. 01,02,03,04, or corpus:speaker keys (nemo:EB0)')
    ap.add_argument('--fusion-weight', type=float, default=0.5)
    ap.add_argument('--fusion', choices=['mean', 'geometric'], default='mean',
                    help='with --export-head: how the runtime combines the head with the network')
    ap.add_argument('--weights', type=float, nargs='+', default=[0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8],
                    help='with --fuse: head weights to sweep; each fold is also scored at the weight best on the other folds')
    ap.add_argument('--skewed', type=int, default=0, metavar='N',
                    help='head training (--fuse, --export-head, --extra): N more copies of every training speaker normalised '
                         'against an emotion-skewed subset of the speaker\'s clips')
    ap.add_argument('--report')
    a = ap.parse_args()
    rav = load_feature_dirs(a.ravdess, log=lambda *_: None)
    if a.export_head:
        export_head(rav, a)
        return
    X, keys = matrix(rav.items, rav.feature_names)
    y = np.array([EMOTIONS.index(i['label']) for i in rav.items])
    spk = np.array([i['speaker'] for i in rav.items])
    if a.norm == 'speaker':
        X = normalise(X, rav.items, 'speaker')
    if a.export_head:
        export_head(rav, a)
        return
    if a.fuse:
        rows = fuse(rav, a, a.C[0])
        if a.report:
            with open(a.report, 'w') as fh:
                json.dump(rows, fh, indent=1)
        return
    report = {'functionals': len(keys), 'norm': a.norm, 'clf': a.clf, 'folds': {}, 'extra': {}}
    print(f'{len(keys)} functionals, {len(rav.items)} RAVDESS clips, norm {a.norm}, {a.clf}')
    best = None
    for C in a.C:
        if a.online:
            accs, uars = online_folds(rav, y, spk, a, C)
        else:
            accs, uars, _ = run_folds(X, y, spk, a.clf, C, rav.items, a.norm)
        print(f'C={C}: folds acc {100*np.mean(accs):.1f} ± {100*np.std(accs):.1f} '
              f'({" / ".join(f"{100*v:.1f}" for v in accs)}), UAR {100*np.mean(uars):.1f}')
        report['folds'][str(C)] = {'acc': accs, 'uar': uars}
        if best is None or np.mean(accs) > best[0]:
            best = (np.mean(accs), C)
    C = best[1]
    ref = (X.mean(axis=0), X.std(axis=0) + 1e-6)
    if a.norm == 'speaker':
        Xtr, ytr = skewed_copies(matrix(rav.items, rav.feature_names)[0], y, rav.items, a.skewed)
    else:
        Xtr, ytr = (X - ref[0]) / ref[1], y
    clf = make(a.clf, C).fit(Xtr, ytr)
    for d in a.extra:
        ex = load_feature_dirs([d], log=lambda *_: None)
        Xe, _ = matrix(ex.items, ex.feature_names)
        Xe = normalise(Xe, ex.items, a.norm, ref)
        ye = np.array([EMOTIONS.index(i['label']) for i in ex.items])
        # shared labels only, as `earshot eval` scores: argmax over the corpus's own labels
        shared = np.unique(ye)
        cols = [list(clf.classes_).index(c) for c in shared]
        p = shared[np.argmax(clf.decision_function(Xe)[:, cols], axis=1)]
        acc, u = float(np.mean(p == ye)), uar(ye, p, np.unique(ye))
        high = {EMOTIONS.index(e) for e in ('happy', 'angry', 'fearful', 'disgust', 'surprised')}
        ya, pa = np.isin(ye, list(high)), np.isin(p, list(high))
        arousal = float(np.mean([np.mean(pa[ya]), np.mean(~pa[~ya])]))
        name = os.path.basename(d.rstrip('/'))
        print(f'{name} (C={C}): acc {100*acc:.1f}, UAR {100*u:.1f}, arousal UAR {100*arousal:.1f} ({len(ye)} clips)')
        report['extra'][name] = {'C': C, 'acc': acc, 'uar': u, 'arousal_uar': arousal, 'clips': len(ye)}
    if a.report:
        with open(a.report, 'w') as fh:
            json.dump(report, fh, indent=1)


if __name__ == '__main__':
    main()
