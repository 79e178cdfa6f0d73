#!/usr/bin/python3
"""Issue 32, item 1, feasibility only: train a logistic regression and a small MLP on the
per-mixture feature statistics experiments/crowd-features.ts wrote (speaker-disjoint: actors 1-16
train, 17-24 test) and print, per test condition, the share of mixtures called "a dominant talker
is present" (kept): for a talker (clean, or 0/5/10/20 dB over babble) higher is better, for a
crowd or babble alone lower is better. The threshold is set on the training mixtures so that 95 %
of the talker-over-babble ones are kept.

    /usr/bin/python3 experiments/crowd-feasibility.py [/tmp/crowd/features.json]
"""
import json
import sys

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

data = json.load(open(sys.argv[1] if len(sys.argv) > 1 else '/tmp/crowd/features.json'))
rows = data['rows']
train = [r for r in rows if r['split'] == 'train']
test = [r for r in rows if r['split'] == 'test']
Xtr = np.array([r['x'] for r in train])
ytr = np.array([r['label'] for r in train])
scaler = StandardScaler().fit(Xtr)


def conditions(rs):
    keys = []
    for r in rs:
        k = r['kind'] if r['snr'] is None else f"{r['kind']} {r['snr']:.0f} dB"
        if k not in keys:
            keys.append(k)
    return keys


for name, clf in [
    ('logistic regression', LogisticRegression(C=0.1, max_iter=5000)),
    ('MLP 32', MLPClassifier(hidden_layer_sizes=(32,), alpha=1e-2, max_iter=3000, random_state=1)),
]:
    clf.fit(scaler.transform(Xtr), ytr)
    ptr = clf.predict_proba(scaler.transform(Xtr))[:, 1]
    tb = np.array([r['kind'] == 'talker+babble' for r in train])
    thr = float(np.quantile(ptr[tb], 0.05))
    weights = clf.coefs_ + clf.intercepts_ if hasattr(clf, 'coefs_') else [clf.coef_, clf.intercept_]
    n_params = sum(np.size(c) for c in weights)
    scores = {}
    print(f'{name} ({n_params} parameters), threshold {thr:.3f} (keeps 95 % of the training talkers over babble)')
    for k in conditions(test):
        rs = [r for r in test if (r['kind'] if r['snr'] is None else f"{r['kind']} {r['snr']:.0f} dB") == k]
        p = clf.predict_proba(scaler.transform(np.array([r['x'] for r in rs])))[:, 1]
        scores[k] = p
        print(f'  {k:24s} n={len(rs):4d}  kept {100 * np.mean(p >= thr):5.1f} %')
    # how separable, whatever the threshold: AUC of each talker condition against babble alone
    neg = scores['babble']

    def auc(pos):
        return float(np.mean([(a > b) + 0.5 * (a == b) for a in pos for b in neg]))

    talkers = ', '.join(f'{k} {auc(v):.3f}' for k, v in scores.items() if k not in ('babble', 'crowd'))
    print(f"  AUC against babble alone: {talkers}, crowd {auc(scores['crowd']):.3f}")
