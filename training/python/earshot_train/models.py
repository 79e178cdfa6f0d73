"""The architectures earshot compares, all taking features [batch, time, features] (normalised by
the runtime) and returning logits [batch, classes]. `lengths` (training only) masks padding; the
exported ONNX graphs run on one unpadded utterance or window, so they take no lengths."""
import torch
from torch import nn


def time_mask(lengths, T):
    if lengths is None:
        return None
    return torch.arange(T, device=lengths.device)[None, :] < lengths[:, None]


class AttentionPool(nn.Module):
    """Additive attention over time (Bahdanau-style scores), softmax-normalised, masked on padding;
    as in Mirsamadi et al. 2017 "Automatic speech emotion recognition using RNNs with local attention"."""

    def __init__(self, dim):
        super().__init__()
        self.proj = nn.Linear(dim, dim // 2)
        self.v = nn.Linear(dim // 2, 1, bias=False)

    def forward(self, h, mask=None):
        s = self.v(torch.tanh(self.proj(h))).squeeze(-1)
        if mask is not None:
            s = s.masked_fill(~mask, -1e4)
        a = torch.softmax(s, dim=1)
        return torch.bmm(a.unsqueeze(1), h).squeeze(1)


class LstmAttention(nn.Module):
    """Default edge model: stacked unidirectional LSTM over frames, attention pooling, linear head.
    Unidirectional so that a streaming form (explicit state) is the same function."""

    def __init__(self, n_in, n_classes, hidden=96, layers=2, dropout=0.3, stack=1):
        super().__init__()
        self.hidden, self.layers, self.stack = hidden, layers, stack
        self.in_drop = nn.Dropout(0.1)
        self.lstm = nn.LSTM(n_in * stack, hidden, num_layers=layers, batch_first=True, dropout=dropout if layers > 1 else 0)
        self.pool = AttentionPool(hidden)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, n_classes)

    def forward(self, x, lengths=None):
        if self.stack > 1:
            # Frame stacking (k consecutive frames -> one step): k times fewer LSTM steps for the same
            # receptive field, as in low-frame-rate acoustic models (Pundak & Sainath 2016).
            t = x.shape[1] // self.stack
            x = x[:, :t * self.stack].reshape(x.shape[0], t, x.shape[2] * self.stack)
            lengths = None if lengths is None else torch.clamp(lengths // self.stack, min=1)
        h, _ = self.lstm(self.in_drop(x))
        return self.head(self.drop(self.pool(h, time_mask(lengths, x.shape[1]))))


class RecurrentPool(nn.Module):
    """BiLSTM / stacked LSTM / vanilla RNN baselines: recurrent layers, masked mean+max pooling of
    the outputs (the published variants use the last state; pooling is the stronger, fairer baseline)."""

    def __init__(self, n_in, n_classes, cell='lstm', hidden=64, layers=2, bidirectional=False, dropout=0.3):
        super().__init__()
        rnn = {'lstm': nn.LSTM, 'rnn': nn.RNN, 'gru': nn.GRU}[cell]
        self.rnn = rnn(n_in, hidden, num_layers=layers, batch_first=True, bidirectional=bidirectional, dropout=dropout if layers > 1 else 0)
        self.bidirectional = bidirectional
        out = hidden * (2 if bidirectional else 1)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(2 * out, n_classes)

    def forward(self, x, lengths=None):
        if lengths is not None and self.bidirectional:
            packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
            h, _ = self.rnn(packed)
            h, _ = nn.utils.rnn.pad_packed_sequence(h, batch_first=True, total_length=x.shape[1])
        else:
            h, _ = self.rnn(x)
        mask = time_mask(lengths, x.shape[1])
        if mask is None:
            mean, mx = h.mean(dim=1), h.max(dim=1).values
        else:
            m = mask.unsqueeze(-1).to(h.dtype)
            mean = (h * m).sum(1) / m.sum(1)
            mx = h.masked_fill(~mask.unsqueeze(-1), -1e4).max(dim=1).values
        return self.head(self.drop(torch.cat([mean, mx], dim=1)))


class Cnn1d(nn.Module):
    """1-D CNN over time with the features (e.g. 80 MFCCs) as channels, global average pooling."""

    def __init__(self, n_in, n_classes, channels=(64, 96, 128), dropout=0.3):
        super().__init__()
        layers, c = [], n_in
        for k in channels:
            layers += [nn.Conv1d(c, k, 5, padding=2), nn.BatchNorm1d(k), nn.ReLU(), nn.MaxPool1d(2)]
            c = k
        self.body = nn.Sequential(*layers)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(c, n_classes)

    def forward(self, x, lengths=None):
        h = self.body(x.transpose(1, 2))
        return self.head(self.drop(h.mean(dim=2)))


class StrideCnn(nn.Module):
    """Stride CNN on fixed 128x128 log-mel patches: 7 conv layers with stride 2 instead of pooling,
    batch-norm, then 2 dense layers with dropout (after Mustaqeem & Kwon 2020, "A CNN-assisted
    enhanced audio signal processing for speech emotion recognition")."""

    def __init__(self, n_in, n_classes, channels=(8, 16, 32, 32, 64, 64, 64), dropout=0.3):
        super().__init__()
        layers, c = [], 1
        for k in channels:
            layers += [nn.Conv2d(c, k, 3, stride=2, padding=1), nn.BatchNorm2d(k), nn.ReLU()]
            c = k
        self.body = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Linear(c, 64), nn.ReLU(), nn.Dropout(dropout), nn.Linear(64, n_classes))

    def forward(self, x, lengths=None):
        h = self.body(x.unsqueeze(1))
        return self.head(h.mean(dim=(2, 3)))


class SmallCnn2d(nn.Module):
    """Small 2-D CNN with max pooling on log-mel (time x mel), global average pooling."""

    def __init__(self, n_in, n_classes, channels=(16, 32, 48), dropout=0.3):
        super().__init__()
        layers, c = [], 1
        for k in channels:
            layers += [nn.Conv2d(c, k, 3, padding=1), nn.BatchNorm2d(k), nn.ReLU(), nn.MaxPool2d(2)]
            c = k
        self.body = nn.Sequential(*layers)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(c, n_classes)

    def forward(self, x, lengths=None):
        h = self.body(x.unsqueeze(1))
        return self.head(self.drop(h.mean(dim=(2, 3))))


class Crnn(nn.Module):
    """Convolutional recurrent network: 2-D conv blocks over (time, features) learn local
    spectro-temporal patterns (pooling 2x2 twice, so 4x fewer steps), the feature axis is flattened
    into channels, an LSTM runs over time and attention pools it (after Zhao et al. 2019, "Speech
    emotion recognition using deep 1D & 2D CNN LSTM networks", and Mirsamadi et al. 2017)."""

    def __init__(self, n_in, n_classes, channels=(16, 32, 48), hidden=96, dropout=0.3, side=0):
        super().__init__()
        # side: the last `side` input columns (the frontend's extras: RMS, ZCR, f0, voicing) bypass
        # the convolutions, averaged over the same 4 frames the pooling merges, and join the
        # flattened conv output before the projection (a scalar like f0 is not a spectral band)
        self.side = side
        n_in -= side
        layers, c = [], 1
        for k, ch in enumerate(channels):
            layers += [nn.Conv2d(c, ch, 3, padding=1), nn.BatchNorm2d(ch), nn.ReLU()]
            if k < 2:
                layers.append(nn.MaxPool2d(2))
            c = ch
        self.body = nn.Sequential(*layers)
        f = n_in // 4
        self.proj = nn.Linear(c * f + side, hidden)
        self.lstm = nn.LSTM(hidden, hidden, batch_first=True)
        self.pool = AttentionPool(hidden)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, n_classes)

    def forward(self, x, lengths=None):
        if self.side:
            x, s = x[..., :-self.side], x[..., -self.side:]
        h = self.body(x.unsqueeze(1))  # [B, C, T/4, F/4]
        h = h.permute(0, 2, 1, 3).flatten(2)  # [B, T/4, C*F/4]
        if self.side:
            s = nn.functional.avg_pool1d(s.transpose(1, 2), 4).transpose(1, 2)  # [B, T/4, side]
            h = torch.cat([h, s], dim=2)
        h, _ = self.lstm(torch.relu(self.proj(self.drop(h))))
        lengths = None if lengths is None else torch.clamp(lengths // 4, min=1)
        return self.head(self.drop(self.pool(h, time_mask(lengths, h.shape[1]))))


class Ensemble(nn.Module):
    """Members trained with different seeds; outputs the log of their mean probabilities (the
    runtime's softmax of it gives that mean back), so it ships as one graph with 'logits' output."""

    def __init__(self, members):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x, lengths=None):
        p = torch.stack([torch.softmax(m(x, lengths), dim=1) for m in self.members]).mean(dim=0)
        return torch.log(p + 1e-12)


# id -> (constructor, fixed window frames or None, description)
ARCHITECTURES = {
    'lstm-attn': (lambda f, c, o: LstmAttention(f, c, hidden=o.get('hidden', 96), layers=o.get('layers', 2), stack=o.get('stack', 1)), None,
                  'stacked LSTM with attention pooling'),
    'bilstm': (lambda f, c, o: RecurrentPool(f, c, 'lstm', hidden=o.get('hidden', 64), layers=2, bidirectional=True), None,
               'BiLSTM 2x64, mean+max pooling'),
    'lstm2x64': (lambda f, c, o: RecurrentPool(f, c, 'lstm', hidden=64, layers=2), None, 'stacked LSTM 2x64, mean+max pooling'),
    'rnn': (lambda f, c, o: RecurrentPool(f, c, 'rnn', hidden=o.get('hidden', 96), layers=2), None, 'vanilla tanh RNN 2x96 baseline'),
    'cnn1d': (lambda f, c, o: Cnn1d(f, c), None, '1-D CNN over time, features as channels'),
    'stride-cnn': (lambda f, c, o: StrideCnn(f, c), 128, '7-layer stride-2 CNN on 128x128 log-mel'),
    'cnn2d': (lambda f, c, o: SmallCnn2d(f, c), None, 'small 2-D CNN with pooling on log-mel'),
    'crnn': (lambda f, c, o: Crnn(f, c, channels=o.get('channels', (16, 32, 48)), hidden=o.get('hidden', 96), side=o.get('side', 0)), None,
             '2-D CNN blocks, LSTM and attention pooling (CRNN) on log-mel'),
}


def build(arch, n_in, n_classes, options=None):
    if arch not in ARCHITECTURES:
        raise SystemExit(f'earshot_train: unknown --arch {arch}; use one of {", ".join(ARCHITECTURES)}')
    ctor, fixed, _ = ARCHITECTURES[arch]
    return ctor(n_in, n_classes, options or {}), fixed


class LstmAttentionStep(nn.Module):
    """Streaming form of LstmAttention with the same weights: advances the LSTM over a chunk of
    frames (a multiple of `stack`) from explicit state and keeps the attention pooling as running
    sums (online softmax: running max, denominator and weighted sum), so the logits after any
    chunk equal the full model's logits over everything fed so far."""

    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, x, h, c, att_max, att_den, att_num):
        m = self.m
        t = x.shape[1] // m.stack
        x = x[:, :t * m.stack].reshape(x.shape[0], t, x.shape[2] * m.stack)
        out, (h2, c2) = m.lstm(x, (h, c))
        s = m.pool.v(torch.tanh(m.pool.proj(out))).squeeze(-1)
        new_max = torch.maximum(att_max, s.max(dim=1, keepdim=True).values)
        scale = torch.exp(att_max - new_max)
        e = torch.exp(s - new_max)
        den = att_den * scale + e.sum(dim=1, keepdim=True)
        num = att_num * scale + torch.bmm(e.unsqueeze(1), out).squeeze(1)
        return m.head(num / den), h2, c2, new_max, den, num
