#!/usr/bin/python3
"""Issue 32, item 1, feasibility only: a small recurrent network over the frontend's frames (the
same mixtures as experiments/crowd-feasibility.py, written with CROWD_FRAMES=1 by
experiments/crowd-features.ts). A GRU (44 -> 32) reads the frames in order, a linear layer gives a
per-frame logit, and a mixture's score is the mean of its frames' logits (streaming: the running
mean is known at every frame). Trained on actors 1-16, scored on 17-24; kept rates at the
threshold that keeps 95 % of the training talkers over babble, and AUC against babble alone.

    CROWD_FRAMES=1 node --import tsx experiments/crowd-features.ts /tmp/crowd2/features.json
    /usr/bin/python3 experiments/crowd-frames.py /tmp/crowd2/features.json
"""
import json
import os
import sys

import numpy as np
import torch

torch.manual_seed(int(os.environ.get('CROWD_SEED', '1')))
torch.set_num_threads(1)
path = sys.argv[1] if len(sys.argv) > 1 else '/tmp/crowd2/features.json'
meta = json.load(open(path))
dim = meta['dim']
frames = np.fromfile(path.replace('.json', '.f32'), dtype=np.float32).reshape(-1, dim).copy()
rms = dim - 4
frames[:, rms] = np.log(frames[:, rms] + 1e-6)  # rms as ln, like the mels
rows = meta['rows']
train = [r for r in rows if r['split'] == 'train']
test = [r for r in rows if r['split'] == 'test']
tr_idx = np.concatenate([np.arange(r['offset'], r['offset'] + r['frames']) for r in train])
mean = frames[tr_idx].mean(0)
std = frames[tr_idx].std(0) + 1e-6


def seq(r):
    x = (frames[r['offset']:r['offset'] + r['frames']] - mean) / std
    # the level of the whole mixture is random: remove each mixture's mean log-mel level
    x[:, :40] -= x[:, :40].mean()
    return torch.from_numpy(x.astype(np.float32))


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = torch.nn.GRU(dim, 32, batch_first=True)
        self.out = torch.nn.Linear(32, 1)

    def forward(self, x):
        h, _ = self.gru(x)
        return self.out(h).squeeze(-1).mean(1)


net = Net()
print(f'GRU 44 -> 32 -> 1: {sum(p.numel() for p in net.parameters())} parameters')
Xtr = torch.stack([seq(r) for r in train])
ytr = torch.tensor([float(r['label']) for r in train])
opt = torch.optim.Adam(net.parameters(), lr=3e-3, weight_decay=1e-4)
EPOCHS = int(os.environ.get('CROWD_EPOCHS', '25'))
for epoch in range(EPOCHS):
    perm = torch.randperm(len(train))
    total = 0.0
    for i in range(0, len(perm), 32):
        b = perm[i:i + 32]
        loss = torch.nn.functional.binary_cross_entropy_with_logits(net(Xtr[b]), ytr[b])
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += float(loss) * len(b)
    if epoch % 5 == 4:
        print(f'  epoch {epoch + 1}: loss {total / len(perm):.3f}')

net.eval()
with torch.no_grad():
    ptr = net(Xtr).numpy()
    tb = np.array([r['kind'] == 'talker+babble' for r in train])
    thr = float(np.quantile(ptr[tb], 0.05))
    print(f'threshold {thr:.3f} (keeps 95 % of the training talkers over babble)')
    scores = {}
    for r in test:
        k = r['kind'] if r['snr'] is None else f"{r['kind']} {r['snr']:.0f} dB"
        scores.setdefault(k, []).append(float(net(seq(r)[None])[0]))
    for k, v in scores.items():
        print(f'  {k:24s} n={len(v):4d}  kept {100 * np.mean(np.array(v) >= thr):5.1f} %')
    neg = np.array(scores['babble'])

    def auc(pos):
        pos = np.array(pos)
        return float(np.mean((pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])))

    talkers = ', '.join(f'{k} {auc(v):.3f}' for k, v in scores.items() if k not in ('babble', 'crowd'))
    print(f"  AUC against babble alone: {talkers}, crowd {auc(scores['crowd']):.3f}")
    # optimistic (chosen on the test babble itself): the lowest threshold no test babble passes
    top = float(neg.max())
    kept = ', '.join(f'{k} {100 * np.mean(np.array(v) > top):.1f} %' for k, v in scores.items() if k != 'babble')
    print(f'  with no test babble passing (threshold {top:.3f}, optimistic): kept {kept}')
