"""The crowd detector (issue 32): is there one dominant talker in this utterance, or only a crowd?

A GRU (44 frontend features -> 32) reads an utterance's frames in order, a linear layer gives a
logit per frame, and the utterance's score is the mean of its frames' logits (the running mean is
known at every frame, so it streams). The features' preparation is part of the exported graph: the
rms column as ln (like the log-mels), each utterance's mean log-mel level and mean ln rms removed
(the level of a room or a recording is not evidence: RAVDESS clips sit 30 dB below emotiontts-kr's;
so a gain does not move the score), then standardised with the training frames' mean and standard
deviation.
So the daemon hands the ONNX model the frontend's frames exactly as the emotion model gets them.

Data: `node --import tsx scripts/crowd-features.ts OUT.json` (src/training/crowd-mixtures.ts):
mixtures from every corpus, speakers split train / validation / test by a hash of their id.
Early stopping on the validation loss; the threshold is chosen on validation speakers, the
highest score that keeps --keep of their clean single talkers. Then the test speakers are scored
once, at that threshold.

    cd training/python && /usr/bin/python3 -m earshot_train.crowd /tmp/crowd-work/features.json \\
        --out ../../models/earshot-crowd
"""
import argparse
import json
import os
import time
import warnings

import numpy as np
import onnx
import torch

from .export import OPSET, licence_note, sha256_file

CORPORA = ['ravdess', 'tess', 'emodb', 'emotiontts-kr', 'nemo']
HIDDEN = 32


class CrowdNet(torch.nn.Module):
    """Raw frontend frames [B, T, dim] -> one score per utterance (mean frame logit)."""

    def __init__(self, mean, std, mel_bands, rms_column, hidden=HIDDEN):
        super().__init__()
        dim = len(mean)
        self.register_buffer('mean', torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer('std', torch.as_tensor(std, dtype=torch.float32))
        self.mel_bands = mel_bands
        self.rms_column = rms_column
        self.gru = torch.nn.GRU(dim, hidden, batch_first=True)
        self.out = torch.nn.Linear(hidden, 1)

    def prepare(self, x, mask=None):
        """`mask` [B, T, 1]: 1 on an utterance's frames, 0 on the padding after them (training batches)."""
        r = self.rms_column
        # a gain moves every log-mel and the ln rms by one amount each: remove the utterance's mean of
        # both before standardising (after it, each band would have moved by its own amount)
        mels = x[..., :self.mel_bands]
        rms = torch.log(x[..., r:r + 1] + 1e-6)
        if mask is None:
            mels = mels - mels.mean(dim=(1, 2), keepdim=True)
            rms = rms - rms.mean(dim=1, keepdim=True)
        else:
            n = mask.sum(dim=1, keepdim=True)
            mels = mels - (mels * mask).sum(dim=(1, 2), keepdim=True) / (n * self.mel_bands)
            rms = rms - (rms * mask).sum(dim=1, keepdim=True) / n
        x = torch.cat([mels, x[..., self.mel_bands:r], rms, x[..., r + 1:]], dim=-1)
        return (x - self.mean) / self.std

    def forward(self, x, mask=None):
        h, _ = self.gru(self.prepare(x, mask))
        logits = self.out(h).squeeze(-1)
        if mask is None:
            return logits.mean(1)
        m = mask.squeeze(-1)
        return (logits * m).sum(1) / m.sum(1)


def prepare_frames(frames, mel_bands, rms_column):
    """One utterance's frames as CrowdNet.prepare has them before standardising (for its statistics):
    the rms column as ln, the mean log-mel level and the mean ln rms removed."""
    f = frames.astype(np.float64)
    f[:, rms_column] = np.log(f[:, rms_column] + 1e-6)
    f[:, :mel_bands] -= f[:, :mel_bands].mean()
    f[:, rms_column] -= f[:, rms_column].mean()
    return f


def load(path):
    meta = json.load(open(path))
    dim = meta['dim']
    frames = np.fromfile(path[:-len('.json')] + '.f32', dtype=np.float32).reshape(-1, dim)
    return meta, frames


def condition(r):
    return r['kind'] if r['snr'] is None or r['split'] == 'train' else f"{r['kind']} {r['snr']:.0f} dB"


def batch(frames, rows):
    """Rows padded to the longest (by repeating their last frame) and the mask of their own frames."""
    n = max(r['frames'] for r in rows)
    out = np.empty((len(rows), n, frames.shape[1]), dtype=np.float32)
    mask = np.zeros((len(rows), n, 1), dtype=np.float32)
    for i, r in enumerate(rows):
        x = frames[r['offset']:r['offset'] + r['frames']]
        out[i, :len(x)] = x
        out[i, len(x):] = x[-1]
        mask[i, :len(x)] = 1
    return torch.from_numpy(out), torch.from_numpy(mask)


def scores(net, frames, rows, size=64):
    net.eval()
    with torch.no_grad():
        return np.concatenate([net(*batch(frames, rows[i:i + size])).numpy() for i in range(0, len(rows), size)])


def bce(s, y):
    return float(torch.nn.functional.binary_cross_entropy_with_logits(torch.from_numpy(s), torch.from_numpy(y)))


def choose_threshold(s, rows, keep):
    """The highest threshold that keeps at least `keep` of the clean single talkers."""
    single = np.sort(s[[r['kind'] == 'single' for r in rows]])
    k = int(np.floor((1 - keep) * len(single)))
    return float(single[k])


def rates(s, rows, threshold):
    """Share of each condition scored >= threshold (kept)."""
    out = {}
    for c in sorted({condition(r) for r in rows}):
        m = np.array([condition(r) == c for r in rows])
        out[c] = {'n': int(m.sum()), 'kept': float(np.mean(s[m] >= threshold))}
    return out


def auc(pos, neg):
    pos, neg = np.asarray(pos)[:, None], np.asarray(neg)[None, :]
    return float(np.mean((pos > neg) + 0.5 * (pos == neg)))


def train(net, frames, tr, va, epochs, patience, lr, log, single_weight=1.0):
    ytr = np.array([r['label'] for r in tr], dtype=np.float32)
    # clean single talkers weigh more: losing one is what ordinary use of `suppress` would meet most
    wtr = np.array([single_weight if r['kind'] == 'single' else 1.0 for r in tr], dtype=np.float32)
    yva = np.array([r['label'] for r in va], dtype=np.float32)
    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=1e-4)
    best, best_state, best_epoch = float('inf'), None, 0
    for epoch in range(1, epochs + 1):
        net.train()
        perm = np.random.permutation(len(tr))
        total = 0.0
        for i in range(0, len(perm), 32):
            b = perm[i:i + 32]
            logits = net(*batch(frames, [tr[j] for j in b]))
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.from_numpy(ytr[b]), weight=torch.from_numpy(wtr[b]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss) * len(b)
        vloss = bce(scores(net, frames, va), yva)
        log(f'  epoch {epoch}: train loss {total / len(tr):.4f}, validation loss {vloss:.4f}')
        if vloss < best:
            best, best_epoch = vloss, epoch
            best_state = {k: v.clone() for k, v in net.state_dict().items()}
        elif epoch - best_epoch >= patience:
            log(f'  stopped: no better validation loss for {patience} epochs')
            break
    net.load_state_dict(best_state)
    return best_epoch, best


def export(net, dim, path):
    net.eval()
    dummy = torch.zeros(1, 100, dim) + 1e-3
    with torch.no_grad(), warnings.catch_warnings():
        # torch 1.13 warns about GRU batch sizes and constant shape inference; the graph is checked below
        warnings.simplefilter('ignore')
        torch.onnx.export(net, (dummy,), path, opset_version=OPSET, input_names=['features'], output_names=['score'],
                          dynamic_axes={'features': {1: 'time'}}, do_constant_folding=True)
    onnx.checker.check_model(onnx.load(path))


def report(name, s, rows, threshold):
    r = rates(s, rows, threshold)
    neg = s[[x['kind'] == 'babble' for x in rows]]
    aucs = {c: auc(s[[condition(x) == c for x in rows]], neg) for c in r if c != 'babble'}
    return {'split': name, 'kept': r, 'aucAgainstBabble': aucs}


def tradeoff(s, rows, keeps):
    out = []
    for keep in keeps:
        t = choose_threshold(s, rows, keep)
        r = rates(s, rows, t)
        out.append({'keepClean': keep, 'threshold': t, **{c: v['kept'] for c, v in r.items()}})
    return out


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog='earshot_train.crowd', description='train and export the crowd detector')
    p.add_argument('features', help='OUT.json written by scripts/crowd-features.ts (OUT.f32 beside it)')
    p.add_argument('--out', default='models/earshot-crowd', help='writes OUT.onnx and OUT.json')
    p.add_argument('--epochs', type=int, default=30)
    p.add_argument('--patience', type=int, default=5)
    p.add_argument('--lr', type=float, default=3e-3)
    p.add_argument('--keep', type=float, default=0.97, help='share of validation clean single talkers the threshold keeps')
    p.add_argument('--single-weight', type=float, default=1.0, help='loss weight of the clean single talkers (the rest weigh 1)')
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--threads', type=int, default=1)
    return p.parse_args(argv)


def main(argv=None):
    a = parse_args(argv)
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    torch.set_num_threads(a.threads)
    meta, frames = load(a.features)
    fc = meta['features']
    mel_bands = fc['melBands']
    rms_column = mel_bands + fc['extras'].index('rms')
    rows = meta['rows']
    tr, va, te = ([r for r in rows if r['split'] == s] for s in ('train', 'val', 'test'))
    prepared = np.concatenate([prepare_frames(frames[r['offset']:r['offset'] + r['frames']], mel_bands, rms_column) for r in tr])
    mean, std = prepared.mean(0), prepared.std(0) + 1e-6
    net = CrowdNet(mean, std, mel_bands, rms_column)
    params = sum(p.numel() for p in net.parameters())
    print(f'GRU {len(mean)} -> {HIDDEN} -> 1: {params} parameters; {len(tr)} train, {len(va)} validation, {len(te)} test mixtures', flush=True)
    t0 = time.time()
    best_epoch, vloss = train(net, frames, tr, va, a.epochs, a.patience, a.lr, lambda s: print(s, flush=True), a.single_weight)
    sva, ste = scores(net, frames, va), scores(net, frames, te)
    threshold = choose_threshold(sva, va, a.keep)
    val, test = report('validation', sva, va, threshold), report('test', ste, te, threshold)
    print(f'best epoch {best_epoch} (validation loss {vloss:.4f}); threshold {threshold:.4f} keeps {a.keep:.0%} of validation clean talkers')
    for r in (val, test):
        print(f"{r['split']}: " + ', '.join(f"{c} {v['kept']:.1%}" for c, v in r['kept'].items()))
        print("  AUC against babble: " + ', '.join(f'{c} {v:.3f}' for c, v in r['aucAgainstBabble'].items()))
    trade = tradeoff(sva, va, [0.90, 0.95, 0.97, 0.99, 1.0])
    for t in trade:
        print(f"  validation, keep {t['keepClean']:.0%} clean: threshold {t['threshold']:.3f}, babble {t['babble']:.1%}, "
              f"tv {t['tv']:.1%}, crowd {t['crowd']:.1%}, 5 dB {t['talker+babble 5 dB']:.1%}")
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    export(net, len(mean), a.out + '.onnx')
    info = {
        'schema': 1,
        'name': os.path.basename(a.out),
        'description': 'Crowd detector: one score per utterance, >= threshold when one dominant talker is present; below it, babble or a crowd only.',
        'architecture': f'GRU {len(mean)}->{HIDDEN}, linear per frame, mean of frame logits ({params} parameters)',
        'frontend': fc,
        'input': {'name': 'features', 'layout': 'batch,time,features',
                  'note': 'raw frontend frames (batch 1); the graph takes ln of rms, removes the mean log-mel level and mean ln rms, then standardises'},
        'output': {'name': 'score', 'meaning': 'mean frame logit'},
        'normalization': {'rmsColumn': rms_column, 'rmsLog': True, 'mean': [round(float(v), 6) for v in mean],
                          'std': [round(float(v), 6) for v in std], 'removeMeanLogMel': mel_bands, 'removeMeanLnRms': True},
        'threshold': round(threshold, 6),
        'thresholdRule': f'highest score keeping {a.keep:.0%} of the validation speakers\' clean single talkers',
        'training': {
            'corpora': CORPORA, 'data': 'scripts/crowd-features.ts (src/training/crowd-mixtures.ts)',
            'mixtures': {s: len(x) for s, x in (('train', tr), ('validation', va), ('test', te))},
            'split': 'speakers by hash (src/training/crowd-mixtures.ts crowdSplit): 3/5 train, 1/5 validation, 1/5 test',
            'seed': a.seed, 'singleWeight': a.single_weight, 'epochs': best_epoch, 'validationLoss': round(vloss, 5), 'seconds': round(time.time() - t0),
        },
        'metrics': {'validation': val, 'test': test, 'tradeoff': trade},
        'onnx': {'opset': OPSET, 'sha256': sha256_file(a.out + '.onnx')},
        'licence': licence_note(CORPORA),
    }
    with open(a.out + '.json', 'w') as fh:
        json.dump(info, fh, indent=1)
        fh.write('\n')
    print(f'wrote {a.out}.onnx ({os.path.getsize(a.out + ".onnx")} bytes) and {a.out}.json')


if __name__ == '__main__':
    main()
