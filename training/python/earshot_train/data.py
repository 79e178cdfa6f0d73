"""Feature sets written by `earshot features --corpus` (DIR/manifest.json + DIR/<name>.npy, float32
[frames, features] from the same WASM kernels the daemon runs), splits, normalisation, batching
and feature-domain augmentation."""
import json
import os

import numpy as np
import torch
from scipy.signal import lfilter

# Canonical label order (src/core/labels.ts EMOTIONS): RAVDESS codes 01..08.
EMOTIONS = ['neutral', 'calm', 'happy', 'sad', 'angry', 'fearful', 'disgust', 'surprised']
# Variance floor of per-utterance CMVN; src/core/constants.ts VARIANCE_FLOOR is the same.
UTTERANCE_VAR_FLOOR = 1e-6
# Smallest mean RMS --norm level divides by; src/runtime/model/session.ts LEVEL_RMS_FLOOR is the same.
LEVEL_RMS_FLOOR = 1e-8


class FeatureSet:
    def __init__(self, frontend, feature_names, items, dirs):
        self.frontend = frontend
        self.feature_names = feature_names
        self.items = items  # dicts from the manifests, plus 'x' (np.float32 [T, F]) and 'dir'
        self.dirs = dirs


def load_feature_dirs(dirs, log=print):
    """Reads one or more feature folders; they must share one frontend config."""
    frontend, names, items = None, None, []
    for d in dirs:
        path = os.path.join(d, 'manifest.json')
        if not os.path.exists(path):
            raise SystemExit(f'earshot_train: {path} is missing; write it with `earshot features CORPUS_ROOT --corpus KIND --out {d}`')
        with open(path) as fh:
            m = json.load(fh)
        if frontend is None:
            frontend, names = m['frontend'], m['featureNames']
        elif m['frontend'] != frontend:
            raise SystemExit(f'earshot_train: {d} was computed with another frontend config than {dirs[0]}; recompute with one config')
        for it in m['items']:
            x = np.load(os.path.join(d, os.path.splitext(os.path.basename(it.get('file', it['name'] + '.npy')))[0] + '.npy'))
            if x.ndim != 2 or x.shape[1] != len(names):
                raise SystemExit(f"earshot_train: {d}/{it['name']}.npy has shape {x.shape}, expected [frames, {len(names)}]")
            items.append({**it, 'x': x.astype(np.float32), 'dir': d})
        log(f'loaded {len(m["items"])} clips from {d}')
    return FeatureSet(frontend, names, items, list(dirs))


def corpus_shares(corpus_of):
    """Each corpus's share of an epoch under --balance corpus: proportional to the square root of
    (clips x speakers), so a corpus of many clips from two voices (TESS) and one of few clips
    (EmoDB 03/08) both count, but neither swamps the others; `corpus_of`: {corpus: (items, speakers)}."""
    raw = {c: np.sqrt(n * max(spk, 1)) for c, (n, spk) in corpus_of.items()}
    total = sum(raw.values())
    return {c: v / total for c, v in raw.items()}


def speaker_key(item):
    return f"{item['corpus']}:{item['speaker']}"


def split_holdout(items, holdout):
    """holdout: set of 'corpus:speaker' keys (speaker-independent)."""
    train = [i for i in items if speaker_key(i) not in holdout]
    test = [i for i in items if speaker_key(i) in holdout]
    return train, test


def split_random(items, fraction, seed):
    """Random clip split (speaker-DEPENDENT: the same voices in train and test), stratified by label."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for lab in sorted({i['label'] for i in items}):
        group = [i for i in items if i['label'] == lab]
        idx = rng.permutation(len(group))
        k = int(round(fraction * len(group)))
        test += [group[j] for j in idx[:k]]
        train += [group[j] for j in idx[k:]]
    return train, test


class LevelColumns:
    """Where the input level shows in a frame (for --norm level): the log-mel columns move by the
    same constant when the gain changes, the linear RMS column scales with it. Only log-mel
    features (mfcc 0) without deltas have such columns; other layouts are refused."""

    def __init__(self, frontend, feature_names):
        if frontend.get('mfcc', 20) != 0 or frontend.get('deltas', 0) != 0:
            raise SystemExit('earshot_train: --norm level needs log-mel features (mfcc 0, deltas 0)')
        self.log = [i for i, n in enumerate(feature_names) if n.startswith('mel')]
        self.ratio = [i for i, n in enumerate(feature_names) if n == 'rms']


def remove_level(x, cols):
    """The utterance's level removed: its mean log-mel (over frames and bands) subtracted from
    every log-mel column and RMS divided by its mean, so a gain leaves the result unchanged while
    the spectral shape (tilt) and the loudness contour stay."""
    y = x.astype(np.float32, copy=True)
    y[:, cols.log] -= y[:, cols.log].mean()
    if cols.ratio:
        y[:, cols.ratio] /= max(float(y[:, cols.ratio].mean()), LEVEL_RMS_FLOOR)
    return y


def global_stats(items, mode='global', cols=None):
    """Per-feature mean and std over all training frames; for 'cmn' the std of the frames after
    each utterance's own mean is removed (the mean returned is then unused); for 'level' the
    statistics of the frames after each utterance's level is removed."""
    if mode == 'cmn':
        xs = [i['x'] - i['x'].mean(axis=0, keepdims=True) for i in items]
    elif mode == 'level':
        xs = [remove_level(i['x'], cols) for i in items]
    else:
        xs = [i['x'] for i in items]
    cat = np.concatenate(xs, axis=0).astype(np.float64)
    mean = cat.mean(axis=0)
    std = np.maximum(cat.std(axis=0), 1e-5)
    return mean.astype(np.float32), std.astype(np.float32)


def normalise(x, mode, mean, std, cols=None):
    if mode == 'global':
        return (x - mean) / std
    if mode == 'level':
        return (remove_level(x, cols) - mean) / std
    if mode == 'cmn':
        # cepstral mean normalisation per utterance, a global scale: removes the channel and the
        # level but keeps how much each feature varies (dynamics carry emotion)
        return (x - x.mean(axis=0, keepdims=True)) / std
    if mode == 'utterance':
        m = x.mean(axis=0, keepdims=True)
        v = x.var(axis=0, keepdims=True)
        return (x - m) / np.sqrt(v + UTTERANCE_VAR_FLOOR)
    return x


# Shortest input the runtime classifies (export.py writes it as metadata window.minFrames); the
# pipeline's segmenter drops shorter VAD spans, so they are not trained on either.
MIN_SPAN_SECONDS = 0.5


def speech_segments(item, hop_seconds):
    """The clip's VAD speech spans (manifest `speech`, from `earshot features --vad`) as feature
    slices, each at least MIN_SPAN_SECONDS long: what the daemon's utterance mode classifies.
    Returns [] when the VAD found no usable speech."""
    if 'speech' not in item:
        raise SystemExit(f"earshot_train: --vad needs speech spans in the manifest; recompute the features of {item['dir']} with `earshot features --vad`")
    min_frames = int(round(MIN_SPAN_SECONDS / hop_seconds))
    return [item['x'][s:e] for s, e in item['speech'] if e - s >= min_frames]


def dct_ortho(n_mels, n_mfcc):
    """[n_mels, n_mfcc] orthonormal DCT-II, as torchaudio create_dct(norm='ortho') and the WASM frontend."""
    n = np.arange(n_mels)[:, None]
    k = np.arange(n_mfcc)[None, :]
    d = np.cos(np.pi / n_mels * (n + 0.5) * k) * np.sqrt(2.0 / n_mels)
    d[:, 0] *= np.sqrt(0.5)
    return d.astype(np.float32)


def interpolate_columns(m, src):
    """The columns of m at fractional positions `src` (linear interpolation between neighbours)."""
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, m.shape[1] - 1)
    w = (src - lo).astype(np.float32)
    return m[:, lo] * (1 - w) + m[:, hi] * w


def resample_frames(x, factor):
    """The frame sequence played `factor` times faster: round(T / factor) frames (at least 2), linear interpolation."""
    n = max(2, int(round(x.shape[0] / factor)))
    pos = np.linspace(0, x.shape[0] - 1, n)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, x.shape[0] - 1)
    w = (pos - lo)[:, None].astype(np.float32)
    return x[lo] * (1 - w) + x[hi] * w


class VocalTractWarp:
    """VTLP (Jaitly & Hinton 2013) in the feature domain: warps the mel axis by a factor in
    [0.9, 1.1], which moves formants as a shorter or longer vocal tract would: a new "speaker" per
    draw. Cepstra are taken back to a smoothed log-mel through the inverse orthonormal DCT, warped,
    and transformed again. Needs raw (unnormalised) features without deltas or a lifter."""

    def __init__(self, frontend, feature_names):
        self.ok = frontend.get('deltas', 0) == 0 and frontend.get('lifter', 0) == 0
        mfcc = frontend.get('mfcc', 20)
        self.n_mels = frontend.get('melBands', 40)
        self.cols = [i for i, n in enumerate(feature_names) if n.startswith('mfcc' if mfcc > 0 else 'mel')]
        self.dct = dct_ortho(self.n_mels, len(self.cols)) if mfcc > 0 else None

    def __call__(self, x, alpha):
        if not self.ok:
            return x
        c = x[:, self.cols]
        logmel = c @ self.dct.T if self.dct is not None else c
        warped = interpolate_columns(logmel, np.clip(np.arange(self.n_mels) * alpha, 0, self.n_mels - 1))
        out = x.copy()
        out[:, self.cols] = warped @ self.dct if self.dct is not None else warped
        return out


def htk_mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f, np.float64) / 700.0)


class RoomAugment:
    """Rooms and microphones, drawn on the raw features before normalisation (--room P: each of the
    three below with probability P, independently, in this order):
    - speed: resampling the audio by alpha in [0.9, 1.1] (Ko et al. 2015) moves every frequency by
      alpha and shortens the clip by it: each mel band takes the log power at f / alpha (HTK mel,
      linear interpolation between band centres), f0 (semitones) moves by 12 log2(alpha) where it
      is voiced, and the frames are resampled by 1 / alpha;
    - reverb: a late tail in each band's power, exponential with RT60 0.2-1.0 s (0.6x that in the top
      band, linearly between), direct-to-reverberant ratio 0-12 dB, as a first-order recursion over
      frames; RMS gets the mid band's tail; ZCR, f0 and voicing are left as they are (a known gap);
    - band: a telephone (300-3400 Hz, 8th-order Butterworth), a cheap microphone's or codec's low
      pass (3.5-7 kHz) or a small capsule's high pass (150-400 Hz, 4th order), then a noise
      floor 45-60 dB under the utterance's mean band power (gamma-distributed per band and frame).
    A gain, an EQ tilt or a fixed microphone response add a constant per band to the log-mel, which
    --norm utterance removes exactly: those are not drawn.
    Before the room, with probability `babble` (--babble B; `pool`: the raw training spans), other
    talkers in it: 2-8 other spans, each from a random frame on (looped to the item's length) and
    scaled to the same mean band power, summed and added to the item's band power at an SNR of
    0-20 dB (the item's mean band power over the babble's): y = ln(e^x + g P_babble) per band,
    RMS^2 + g sum of the spans' RMS^2 alike. Powers of independent sources add in expectation (the
    cross terms average out over a band's bins), so this stands in for mixing the audio; ZCR, f0
    and voicing stay the talker's (a known gap: the pitch tracker's errors in babble are not
    learnt). It gives every corpus the babble copies only RAVDESS has as audio."""

    def __init__(self, frontend, feature_names, p, rng=None, babble=0.0, pool=None):
        if frontend.get('mfcc', 20) != 0 or frontend.get('deltas', 0) != 0 or frontend.get('log') != 'ln':
            raise SystemExit('earshot_train: --room needs natural-log mel features (mfcc 0, deltas 0, log ln)')
        self.p = p
        self.babble_p = babble
        self.pool = pool or []
        if babble and not self.pool:
            raise SystemExit('earshot_train: --babble needs training spans to draw the other talkers from')
        self.rng = rng or np.random.default_rng(0)
        self.mel = [i for i, n in enumerate(feature_names) if n.startswith('mel')]
        self.rms = feature_names.index('rms') if 'rms' in feature_names else None
        self.f0 = feature_names.index('f0') if 'f0' in feature_names else None
        self.voicing = feature_names.index('voicing') if 'voicing' in feature_names else None
        n = len(self.mel)
        lo, hi = htk_mel(frontend.get('fMin', 0)), htk_mel(frontend.get('fMax', frontend['sampleRate'] / 2))
        points = np.linspace(lo, hi, n + 2)
        self.centre_mel = points[1:-1]
        self.centre_hz = 700.0 * (10 ** (self.centre_mel / 2595.0) - 1.0)
        self.hop = frontend['hopLength'] / frontend['sampleRate']

    def __call__(self, x):
        r = self.rng
        if self.babble_p and r.random() < self.babble_p:
            x = self.talkers(x, [self.pool[k] for k in r.integers(0, len(self.pool), r.integers(2, 9))], r.uniform(0.0, 20.0), r)
        if r.random() < self.p:
            x = self.speed(x, r.uniform(0.9, 1.1))
        else:
            x = x.copy()
        if r.random() < self.p:
            self.reverb(x, r.uniform(0.2, 1.0), r.uniform(0.0, 12.0))
        if r.random() < self.p:
            self.band(x, r)
        return x

    def speed(self, x, alpha):
        src = np.interp(htk_mel(self.centre_hz / alpha), self.centre_mel, np.arange(len(self.mel)))
        out = x.copy()
        out[:, self.mel] = interpolate_columns(x[:, self.mel], src)
        if self.f0 is not None:
            voiced = out[:, self.voicing] > 0.5 if self.voicing is not None else out[:, self.f0] != 0
            out[voiced, self.f0] += np.float32(12.0 * np.log2(alpha))
        return resample_frames(out, alpha)

    def talkers(self, x, others, snr_db, r):
        """x with the spans `others` talking over it at snr_db (the item's mean band power over theirs)."""
        n = x.shape[0]
        power = np.exp(x[:, self.mel].astype(np.float64))
        babble = np.zeros_like(power)
        energy = np.zeros(n)
        for o in others:
            rows = (r.integers(0, o.shape[0]) + np.arange(n)) % o.shape[0]
            p = np.exp(o[rows][:, self.mel].astype(np.float64))
            scale = 1.0 / max(p.mean(), 1e-30)
            babble += p * scale
            if self.rms is not None:
                energy += o[rows, self.rms].astype(np.float64) ** 2 * scale
        g = power.mean() / max(babble.mean(), 1e-30) * 10.0 ** (-snr_db / 10.0)
        out = x.copy()
        out[:, self.mel] = np.log(power + g * babble).astype(np.float32)
        if self.rms is not None:
            out[:, self.rms] = np.sqrt(x[:, self.rms].astype(np.float64) ** 2 + g * energy).astype(np.float32)
        return out

    def reverb(self, x, rt60, drr_db):
        """In place: power P_t + c * sum_k a^k P_(t-k), a = 10^(-6 hop / RT60) per band, c from the DRR."""
        n = len(self.mel)
        rt = rt60 * np.linspace(1.0, 0.6, n)
        a = 10.0 ** (-6.0 * self.hop / rt)
        c = 10.0 ** (-drr_db / 10.0) * (1 - a) / a
        power = np.exp(x[:, self.mel].astype(np.float64))
        tail = np.stack([lfilter([0.0, c[k] * a[k]], [1.0, -a[k]], power[:, k]) for k in range(n)], 1)
        x[:, self.mel] = np.log(power + tail).astype(np.float32)
        if self.rms is not None:
            mid = n // 2
            energy = x[:, self.rms].astype(np.float64) ** 2
            x[:, self.rms] = np.sqrt(energy + lfilter([0.0, c[mid] * a[mid]], [1.0, -a[mid]], energy)).astype(np.float32)

    def band(self, x, r):
        """In place: a band limit, then a noise floor."""
        f = self.centre_hz
        kind = r.integers(0, 3)
        if kind == 0:  # telephone: steeper (8th order), as a codec's band filter
            h = 1 / (1 + (f / 3400.0) ** 16) / (1 + (300.0 / f) ** 16)
        elif kind == 1:  # low pass
            h = 1 / (1 + (f / r.uniform(3500.0, 7000.0)) ** 8)
        else:  # high pass
            h = 1 / (1 + (r.uniform(150.0, 400.0) / f) ** 8)
        power = np.exp(x[:, self.mel].astype(np.float64))
        kept = power * h
        floor = power.mean() * 10 ** (-r.uniform(45.0, 60.0) / 10.0)
        noisy = kept + floor * r.gamma(4.0, 0.25, size=power.shape)
        if self.rms is not None:
            ratio = np.sqrt(noisy.sum(1) / np.maximum(power.sum(1), 1e-30))
            x[:, self.rms] *= ratio.astype(np.float32)
        x[:, self.mel] = np.log(noisy).astype(np.float32)


class Augment:
    """Feature-domain augmentation, each part a switch:
    - specaugment: time masks (up to 2 x 10% of frames) and feature masks (up to 2 x 4 features), set
      to 0 (= the normalised mean), after Park et al. 2019, SpecAugment;
    - tempo: resample the frame sequence by a factor in [0.9, 1.1] (linear interpolation), a cheap
      feature-domain stand-in for speed perturbation (Ko et al. 2015);
    - crop: a random crop of 60-100% of the utterance, so windows of a live stream look familiar;
    - jitter: Gaussian noise of sd 0.05 on the normalised features."""

    def __init__(self, specaugment=True, tempo=True, crop=True, jitter=True, seed=0):
        self.specaugment, self.tempo, self.crop, self.jitter = specaugment, tempo, crop, jitter
        self.rng = np.random.default_rng(seed)

    def __call__(self, x):
        r = self.rng
        if self.crop and x.shape[0] > 50 and r.random() < 0.5:
            n = int(x.shape[0] * r.uniform(0.6, 1.0))
            s = r.integers(0, x.shape[0] - n + 1)
            x = x[s:s + n]
        if self.tempo and r.random() < 0.5:
            x = resample_frames(x, r.uniform(0.9, 1.1))
        else:
            x = x.copy()
        if self.specaugment:
            T, F = x.shape
            for _ in range(r.integers(0, 3)):
                w = r.integers(0, max(1, T // 10) + 1)
                s = r.integers(0, max(1, T - w) + 1)
                x[s:s + w] = 0
            for _ in range(r.integers(0, 3)):
                w = r.integers(0, 5)
                s = r.integers(0, max(1, F - w) + 1)
                x[:, s:s + w] = 0
        if self.jitter:
            x = x + r.normal(0, 0.05, x.shape).astype(np.float32)
        return x


def batches(xs, ys, batch_size, rng, augment=None, max_frames=None):
    """Length-bucketed shuffled batches: sort by length within random chunks to limit padding.
    Yields (x [B, T, F] float32, lengths [B], y [B])."""
    order = rng.permutation(len(xs))
    chunk = batch_size * 8
    groups = []
    for c in range(0, len(order), chunk):
        part = sorted(order[c:c + chunk], key=lambda i: xs[i].shape[0])
        groups += [part[b:b + batch_size] for b in range(0, len(part), batch_size)]
    rng.shuffle(groups)
    for g in groups:
        seqs = [augment(xs[i]) if augment else xs[i] for i in g]
        if max_frames:
            seqs = [s[:max_frames] for s in seqs]
        T = max(s.shape[0] for s in seqs)
        x = np.zeros((len(seqs), T, seqs[0].shape[1]), np.float32)
        for k, s in enumerate(seqs):
            x[k, :s.shape[0]] = s
        yield torch.from_numpy(x), torch.tensor([s.shape[0] for s in seqs]), torch.tensor([ys[i] for i in g])


# --norm speaker: each utterance normalised against its speaker's baseline (feature means and
# spreads over the speech frames of the speaker's OTHER clips, label-free), as the runtime's running
# baseline (src/runtime/model/baseline.ts) normalises against the speech it heard before. Training
# draws the baseline per epoch from several subsets, so the model sees what a live baseline is:
#   all of the speaker's other clips; a random subset of them; an emotion-skewed subset (the other
#   clips of one or two emotions, as after a stretch of one emotion); or no baseline at all (the
#   utterance's own statistics, as while the runtime's baseline warms up).
SPEAKER_UTTERANCE_P = 0.15  # share of draws normalised per utterance (the warm-up condition)
SPEAKER_SKEWED_P = 0.3  # share of draws from an emotion-skewed subset


def clip_moments(items, spans_of):
    """{clip key: (n, sum, sum of squares, label, group)} over each clip's speech frames. The group
    is the speaker within one feature folder (noisy copies form their own group: a noisy room)."""
    out = {}
    for i in items:
        xs = spans_of(i)
        if not xs:
            continue
        cat = np.concatenate(xs, axis=0).astype(np.float64)
        out[(i['dir'], i['name'])] = (cat.shape[0], cat.sum(0), (cat * cat).sum(0), i['label'], (i['dir'], speaker_key(i)))
    return out


def pooled(moments, keys):
    """Mean and std over the frames of the clips `keys` (the runtime's baseline estimator without decay)."""
    n = sum(moments[k][0] for k in keys)
    s = sum(moments[k][1] for k in keys)
    ss = sum(moments[k][2] for k in keys)
    m = s / n
    v = np.maximum(ss / n - m * m, 0)
    return m.astype(np.float32), np.sqrt(v + UTTERANCE_VAR_FLOOR).astype(np.float32)


class SpeakerBaselines:
    """Baseline draws for --norm speaker. `variants(key, rng, k)` gives k (mean, std) pairs for a
    clip, from subsets of its group's other clips; None stands for per-utterance statistics."""

    def __init__(self, moments):
        self.m = moments
        self.groups = {}
        for k, v in moments.items():
            self.groups.setdefault(v[4], []).append(k)

    def others(self, key):
        g = self.m[key][4] if key in self.m else None
        return [k for k in self.groups.get(g, []) if k != key]

    def all_others(self, key):
        o = self.others(key)
        return pooled(self.m, o) if o else None

    def same_emotion(self, key, label):
        """Stress test: the baseline from the other clips of the clip's own emotion only."""
        o = [k for k in self.others(key) if self.m[k][3] == label]
        return pooled(self.m, o) if o else None

    def draw(self, key, rng):
        o = self.others(key)
        if not o or rng.random() < SPEAKER_UTTERANCE_P:
            return None
        if rng.random() < SPEAKER_SKEWED_P / (1 - SPEAKER_UTTERANCE_P):
            labels = sorted({self.m[k][3] for k in o})
            pick = set(rng.choice(labels, size=min(len(labels), int(rng.integers(1, 3))), replace=False))
            sub = [k for k in o if self.m[k][3] in pick]
        elif rng.random() < 0.5:
            sub = o
        else:
            size = int(rng.integers(min(3, len(o)), len(o) + 1))
            sub = [o[j] for j in rng.choice(len(o), size=size, replace=False)]
        return pooled(self.m, sub)


# Bound of a feature normalised against a speaker baseline (src/runtime/model/session.ts
# SPEAKER_CLIP is the same). A baseline from a skewed stretch (a calm speaker who then shouts)
# puts an utterance's RMS 20 to 150 spreads away; unbounded, those draws dominated training and
# BatchNorm's statistics and the held-out check swung between 13% and 61% (fold 1). Held-out
# clips against all of a speaker's other clips stay within +-6 for 99.9% of their frames.
SPEAKER_CLIP = 6.0


# Normalisations against a speaker baseline: 'speaker' every feature; 'prosody' only the features
# that are not spectral (RMS, ZCR, f0, voicing: level and pitch relative to the speaker), the
# log-mel (or MFCC) columns per utterance as 'utterance' does, so the spectral envelope of what is
# said (which varies with the text) is removed as before.
SPEAKER_MODES = ('speaker', 'prosody')


def speaker_columns(mode, feature_names):
    """Indices of the columns normalised against the baseline (src/runtime/model/session.ts speakerColumns)."""
    if mode == 'speaker':
        return list(range(len(feature_names)))
    if mode == 'prosody':
        return [k for k, n in enumerate(feature_names) if 'mel' not in n and 'mfcc' not in n]
    return []


def speaker_normalise(x, stats, cols=None):
    """x against a speaker baseline (mean, std) in the columns `cols` (all when None), bounded to
    +-SPEAKER_CLIP, the other columns per utterance; per-utterance CMVN everywhere when there is no baseline."""
    y = normalise(x, 'utterance', None, None)
    if stats is None:
        return y
    cols = list(range(x.shape[1])) if cols is None else cols
    y[:, cols] = np.clip((x[:, cols] - stats[0][cols]) / stats[1][cols], -SPEAKER_CLIP, SPEAKER_CLIP)
    return y
