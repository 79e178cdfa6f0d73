"""Golden feature vectors for the earshot frontend, from an independent reference.

Regenerate (Debian python3-torch 1.13 / python3-torchaudio 0.13, NOT a venv python):

    /usr/bin/python3 scripts/golden.py              # writes test/fixtures/golden/
    /usr/bin/python3 scripts/golden.py --mistakes   # prints how far typical bugs land vs the test tolerances

Everything is computed in float64 with torch/torchaudio and saved as float32. Definitions (the
contract of src/runtime/frontend/config.ts; field names are earshot's):
 1. x = int16 samples / 32768 (mono, sampleRate 16000).
 2. Pre-emphasis over the whole signal: y[n] = x[n] - a*x[n-1], y[0] = x[0]
    (a = preEmphasis, 0 = off), as torchaudio.functional.preemphasis (>= 2.0; written out here).
 3. Frame i = y[i*hop : i*hop + frameLength] (no centring, no signal padding), times a PERIODIC
    window of length frameLength (torch.hann_window / torch.hamming_window(periodic=True),
    'none' = rectangular), zero-padded AT THE END to fftSize.
    Frames = 1 + floor((N - frameLength) / hop). (torch.stft would centre a short window inside
    n_fft and frame n_fft samples, so framing is done here with Tensor.unfold + torch.fft.rfft.)
 4. power[k] = |rfft(frame, n=fftSize)[k]|^2, k = 0..fftSize/2.
 5. mel = power @ torchaudio.functional.melscale_fbanks(fftSize//2+1, fMin, fMax, melBands,
    sampleRate, norm=melNorm (None|'slaney'), mel_scale=melScale ('htk'|'slaney')).
 6. log 'ln': ln(max(mel, logFloor)); 'db': 10*log10(max(mel, logFloor)) (no top_db).
 7. mfcc > 0: c = logmel @ torchaudio.functional.create_dct(mfcc, melBands, norm='ortho');
    lifter L > 0: c[:, n] *= 1 + (L/2) sin(pi n / L). mfcc == 0: the output is the log-mel.
 8. Extras after the cepstra, in config order, on the RAW frame x = x[i*hop : i*hop+N], N =
    frameLength (not pre-emphasised, not windowed): 'rms' = sqrt(mean(x^2)); 'zcr' = #{j in 1..N-1 :
    (x[j-1] >= 0) != (x[j] >= 0)} / N. 'f0' and 'voicing' (pitch(), numpy float64):
    a. x -= mean(x); E = sum x^2. E < 1e-10 N: the frame is silent, f0 = voicing = 0.
    b. lags tau = tauMin..tauMax, tauMin = floor(sampleRate/500), tauMax = min(ceil(sampleRate/70),
       floor(3N/4)) (F0 70-500 Hz, at least N/4 samples of overlap).
    c. r(tau) = sum_{j<N-tau} x_j x_{j+tau} / sqrt(sum_{j<N-tau} x_j^2 * sum_{j<N-tau} x_{j+tau}^2),
       r = 0 when that product of energies is below 1e-12 E^2.
    d. m = max r; tau* = the smallest tau that is a local peak (r(tau) >= r(tau-1) and
       r(tau) >= r(tau+1), neighbours inside the range; tauMin and tauMax count as peaks only if
       r = m there) with r(tau) >= 0.9 m (>= m when m <= 0). The shortest period within 10% of
       the best wins over its multiples (no octave-down errors).
    e. T = tau* + (r(tau*-1) - r(tau*+1)) / (2 (r(tau*-1) - 2 r(tau*) + r(tau*+1))) when tau* has
       both neighbours in range and that curvature is < 0 (parabolic interpolation); else T = tau*.
    f. 'f0' = 12 log2(sampleRate / T / 100) (semitones re 100 Hz); 'voicing' = max(0, r(tau*)).
 9. base = [cepstra | logmel, extras]; deltas >= 1 appends
    torchaudio.functional.compute_deltas(base.T, win_length=5).T (replicate padding at both ends
    of the whole signal); deltas == 2 also appends compute_deltas of the deltas.
Output per clip and config: float32 [frames, features] in <clip>.<config>.npy.

Clips: 1.2 s excerpts (the loudest 1.2 s window) of three corpus files from ../shared/data
(decoded with sox: torchaudio here may lack a FLAC backend), plus one synthetic full-scale clip
for the fixed-point overflow check. Each is stored as <clip>.s16 (raw int16 LE mono 16 kHz).
"""
import json
import math
import os
import subprocess
import sys

import numpy as np
import torch
import torchaudio.functional as AF

# melscale_fbanks / create_dct build their tensors in the default dtype: make it float64.
torch.set_default_dtype(torch.float64)

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
OUT = os.path.join(ROOT, 'test', 'fixtures', 'golden')
DATA = os.path.normpath(os.path.join(ROOT, '..', 'shared', 'data'))
SAMPLE_RATE = 16000
EXCERPT = 19200  # 1.2 s

DEFAULT = dict(
    sampleRate=16000, frameLength=400, hopLength=160, fftSize=512, window='hann', preEmphasis=0.97,
    melBands=40, melScale='htk', melNorm=None, fMin=20, fMax=8000, log='ln', logFloor=1e-6, mfcc=20,
    lifter=0, extras=[], deltas=0, noiseSuppression='off', arithmetic='f32',
)
CONFIGS = {
    'default': dict(DEFAULT),
    # the default frontend with the log-mel as output (for the q15 log-mel SNR check)
    'logmel': {**DEFAULT, 'mfcc': 0},
    # librosa-like dB log-mel
    'slaney': {**DEFAULT, 'frameLength': 2048, 'hopLength': 512, 'fftSize': 2048, 'window': 'hann',
               'preEmphasis': 0, 'melBands': 128, 'melScale': 'slaney', 'melNorm': 'slaney', 'fMin': 0,
               'fMax': 8000, 'log': 'db', 'logFloor': 1e-10, 'mfcc': 0},
    'mfcc80': {**DEFAULT, 'frameLength': 2048, 'hopLength': 512, 'fftSize': 2048, 'window': 'hamming',
               'preEmphasis': 0, 'melBands': 128, 'melScale': 'htk', 'melNorm': None, 'fMin': 0,
               'fMax': 8000, 'log': 'ln', 'logFloor': 1e-6, 'mfcc': 80},
    'full': {**DEFAULT, 'extras': ['rms', 'zcr'], 'deltas': 2, 'lifter': 22},
    # the CRNN's log-mel 40 with every extra, pitch included
    'pitch': {**DEFAULT, 'mfcc': 0, 'extras': ['rms', 'zcr', 'f0', 'voicing']},
}

CORPUS_CLIPS = {
    'ravdess': ('ravdess/Actor_01/03-01-05-02-01-01-01.flac', 'RAVDESS (CC BY-NC-SA 4.0), actor 01, angry, strong'),
    # a second RAVDESS voice rather than TESS: TESS is CC BY-NC-ND, and a committed excerpt is arguably a derivative
    'ravdess_f': ('ravdess/Actor_02/03-01-06-02-01-01-02.flac', 'RAVDESS (CC BY-NC-SA 4.0), actor 02, fearful, strong'),
    'emodb': ('emodb/03a01Wa.flac', 'EmoDB (free for research), speaker 03, anger'),
}


def decode(path):
    raw = subprocess.run(['sox', path, '-t', 'raw', '-e', 'signed', '-b', '16', '-L', '-c', '1', '-r', str(SAMPLE_RATE), '-'],
                         check=True, capture_output=True).stdout
    return np.frombuffer(raw, dtype='<i2')


def loudest_excerpt(s, n=EXCERPT):
    """Start of the n-sample window with the most energy (hop 160), so the excerpt is speech, not silence."""
    e = np.cumsum(np.concatenate([[0.0], s.astype(np.float64) ** 2]))
    starts = np.arange(0, len(s) - n + 1, 160)
    best = starts[np.argmax(e[starts + n] - e[starts])]
    return s[best:best + n], int(best)


def loud_synthetic(n=EXCERPT):
    """Full-scale clip: a linear chirp 100 Hz -> 7 kHz driven to 1.6x full scale and clipped to
    [-32768, 32767], then 0.2 s of a +-32767 square wave at 1 kHz (pre-emphasis of it swings ~1.97x
    full scale, which a fixed-point path must not wrap)."""
    t = np.arange(n) / SAMPLE_RATE
    n_sq = SAMPLE_RATE // 5
    tc = t[:n - n_sq]
    f0, f1, dur = 100.0, 7000.0, tc[-1]
    chirp = np.sin(2 * np.pi * (f0 * tc + (f1 - f0) * tc ** 2 / (2 * dur)))
    chirp = np.clip(np.round(1.6 * 32768 * chirp), -32768, 32767)
    square = np.where((np.arange(n_sq) // 8) % 2 == 0, 32767, -32767)
    return np.concatenate([chirp, square]).astype('<i2')


def window(cfg, periodic=True):
    L = cfg['frameLength']
    if cfg['window'] == 'hann':
        return torch.hann_window(L, periodic=periodic)
    if cfg['window'] == 'hamming':
        return torch.hamming_window(L, periodic=periodic, alpha=0.54, beta=0.46)
    return torch.ones(L)


def preemphasis(x, a):
    """Step 2, written out: torchaudio 0.13 has no functional.preemphasis (it arrived in 2.0), and
    lfilter would clamp to [-1, 1], which full-scale input exceeds after pre-emphasis."""
    y = x.clone()
    y[1:] -= a * x[:-1]
    return y


def radix2_rfft_f32(frames, n):
    """Textbook iterative radix-2 FFT in complex64 with a rounded twiddle table: stands in for a
    float32 WASM kernel when --mistakes measures what a CORRECT float32 implementation scores."""
    a = np.zeros((frames.shape[0], n), np.complex64)
    a[:, :frames.shape[1]] = frames
    bits = n.bit_length() - 1
    a = a[:, [int(format(i, f'0{bits}b')[::-1], 2) for i in range(n)]]
    size = 2
    while size <= n:
        half = size // 2
        tw = np.exp(-2j * np.pi * np.arange(half) / size).astype(np.complex64)
        a = a.reshape(a.shape[0], n // size, size)
        even, odd = a[:, :, :half], a[:, :, half:] * tw
        a = np.concatenate([even + odd, even - odd], axis=2).reshape(a.shape[0], n)
        size *= 2
    return torch.from_numpy(a[:, :n // 2 + 1])


def log_mel(x, cfg, v):
    """Steps 2-6. x: tensor in [-1, 1]. v holds the deliberate deviations --mistakes swaps in ({} = the definition)."""
    L, hop, nfft = cfg['frameLength'], cfg['hopLength'], cfg['fftSize']
    dt = x.dtype
    y = preemphasis(x, cfg['preEmphasis']) if cfg['preEmphasis'] > 0 else x
    frames = y[v.get('offset', 0):].unfold(0, L, hop)  # [frames, L]
    w = window(cfg, periodic=not v.get('symmetric_window')).to(dt)
    if v.get('f32'):
        X = radix2_rfft_f32((frames * w).numpy(), nfft)
        power = X.real ** 2 + X.imag ** 2
    else:
        power = torch.fft.rfft(frames * w, n=nfft).abs() ** 2
    scale = {'htk': 'slaney', 'slaney': 'htk'}[cfg['melScale']] if v.get('other_mel_scale') else cfg['melScale']
    norm = ({None: 'slaney', 'slaney': None}[cfg['melNorm']]) if v.get('other_mel_norm') else cfg['melNorm']
    fb = AF.melscale_fbanks(nfft // 2 + 1, f_min=float(cfg['fMin']), f_max=float(cfg['fMax']), n_mels=cfg['melBands'],
                            sample_rate=cfg['sampleRate'], norm=norm, mel_scale=scale).to(dt)
    mel = (power @ fb).clamp_min(cfg['logFloor'])
    return torch.log(mel) if cfg['log'] == 'ln' else 10 * torch.log10(mel)


def cepstra(logmel, cfg, v):
    """Step 7."""
    if cfg['mfcc'] == 0:
        return logmel
    dct = AF.create_dct(cfg['mfcc'], cfg['melBands'], norm=v.get('dct_norm', 'ortho')).to(logmel.dtype)
    if v.get('dct_c0_unscaled'):
        dct[:, 0] *= math.sqrt(2)  # ortho scaling but without c0's 1/sqrt(2)
    c = logmel @ dct
    L = cfg['lifter']
    if L > 0:
        n = torch.arange(cfg['mfcc'])
        c = c * (1 + (L / 2) * torch.sin(math.pi * n / L)).to(c.dtype)
    return c


def pitch(frames, sample_rate, v):
    """Step 8 a-f: (f0, voicing) per row of frames [frames, N] (numpy, in the array's dtype)."""
    n = frames.shape[1]
    taus = np.arange(sample_rate // 500, min(math.ceil(sample_rate / 70), 3 * n // 4) + 1)
    f0 = np.zeros(len(frames), frames.dtype)
    voicing = np.zeros(len(frames), frames.dtype)
    for i, x in enumerate(frames):
        if not v.get('pitch_keep_dc'):
            x = x - x.mean()
        e = x @ x
        if e < 1e-10 * n:
            continue
        r = np.zeros(len(taus), frames.dtype)
        for k, tau in enumerate(taus):
            a, b = x[:n - tau], x[tau:]
            d = (a @ a) * (b @ b)
            r[k] = 0 if d < 1e-12 * e * e else (a @ b) / np.sqrt(d)
        m = r.max()
        last = len(r) - 1

        def is_peak(k):
            return r[k] == m if k in (0, last) else r[k] >= r[k - 1] and r[k] >= r[k + 1]
        if v.get('pitch_argmax'):
            k = int(np.argmax(r))
        else:
            k = next(k for k in range(len(r)) if r[k] >= (0.9 * m if m > 0 else m) and is_peak(k))
        period = float(taus[k])
        if 0 < k < last and not v.get('pitch_no_interpolation'):
            a, b, c = float(r[k - 1]), float(r[k]), float(r[k + 1])
            if a - 2 * b + c < 0:
                period += (a - c) / (2 * (a - 2 * b + c))
        f0[i] = 12 * math.log2(sample_rate / period / 100)
        voicing[i] = max(0.0, float(r[k]))
    return f0, voicing


def extras(x, cfg, v):
    """Step 8, on the raw (not pre-emphasised, not windowed) frames."""
    frames = x.unfold(0, cfg['frameLength'], cfg['hopLength'])
    cols = []
    pitched = None
    for e in cfg['extras']:
        if e == 'rms':
            f = preemphasis(x, cfg['preEmphasis']).unfold(0, cfg['frameLength'], cfg['hopLength']) if v.get('rms_preemph') else frames
            cols.append(torch.sqrt((f ** 2).mean(dim=1)))
        elif e == 'zcr':
            s = frames > 0 if v.get('zcr_strict') else frames >= 0
            cols.append((s[:, 1:] != s[:, :-1]).sum(dim=1).to(x.dtype) / cfg['frameLength'])
        else:
            if pitched is None:
                pitched = dict(zip(('f0', 'voicing'), pitch(frames.numpy(), cfg['sampleRate'], v)))
            cols.append(torch.from_numpy(pitched[e]))
    return torch.stack(cols, dim=1) if cols else torch.zeros(frames.shape[0], 0, dtype=x.dtype)


def with_deltas(base, cfg, v):
    """Step 9: deltas over time (compute_deltas works along the last axis, hence the transposes)."""
    mode = 'constant' if v.get('deltas_zero_pad') else 'replicate'
    out = [base]
    if cfg['deltas'] >= 1:
        d = AF.compute_deltas(base.T.contiguous(), win_length=5, mode=mode).T
        out.append(d)
        if cfg['deltas'] == 2:
            out.append(AF.compute_deltas(d.T.contiguous(), win_length=5, mode=mode).T)
    return torch.cat(out, dim=1)


def features(s16, cfg, v=None):
    """The golden features of int16 samples s16 under cfg, float64 (float32 when v['f32'])."""
    v = v or {}
    x = torch.from_numpy(s16.astype(np.float64) / 32768.0)
    if v.get('f32'):
        x = x.to(torch.float32)
    base = torch.cat([cepstra(log_mel(x, cfg, v), cfg, v), extras(x, cfg, v)], dim=1)
    feats = with_deltas(base, cfg, v)
    assert v.get('offset') or feats.shape[0] == 1 + (len(s16) - cfg['frameLength']) // cfg['hopLength']
    return feats.numpy()


def load_clips():
    clips = {}
    for name, (rel, desc) in CORPUS_CLIPS.items():
        s, start = loudest_excerpt(decode(os.path.join(DATA, rel)))
        clips[name] = (s, {'source': rel, 'description': desc, 'startSample': start, 'samples': len(s)})
    clips['loud'] = (loud_synthetic(), {'source': 'synthetic (scripts/golden.py loud_synthetic)',
                                        'description': 'clipped full-scale chirp 100 Hz-7 kHz + 1 kHz square wave at +-32767',
                                        'startSample': 0, 'samples': EXCERPT, 'fullScale': True})
    return clips


def write_fixtures():
    os.makedirs(OUT, exist_ok=True)
    clips = load_clips()
    manifest = {'sampleRate': SAMPLE_RATE, 'generator': '/usr/bin/python3 scripts/golden.py',
                'torch': torch.__version__, 'clips': {}}
    for name, (s, meta) in clips.items():
        s.astype('<i2').tofile(os.path.join(OUT, f'{name}.s16'))
        for cname, cfg in CONFIGS.items():
            f = features(s, cfg).astype(np.float32)
            np.save(os.path.join(OUT, f'{name}.{cname}.npy'), f)
            print(f'{name}.{cname}: {f.shape}')
        manifest['clips'][name] = meta
    with open(os.path.join(OUT, 'configs.json'), 'w') as fh:
        json.dump(CONFIGS, fh, indent=2)
        fh.write('\n')
    with open(os.path.join(OUT, 'manifest.json'), 'w') as fh:
        json.dump(manifest, fh, indent=2)
        fh.write('\n')
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f'{len(os.listdir(OUT))} files, {total / 1024:.0f} KiB in {OUT}')


# ---- --mistakes: the test's tolerances (MIRROR of test/unit/golden.test.ts tolerance(); keep in step) ----
EPS32 = 2.0 ** -23
F0_TOL = 1e-2  # semitones
VOICING_TOL = 1e-4
VOICED = 0.5  # f0 is compared on frames whose golden voicing exceeds this


def tolerance(cfg, gold):
    """Per-value tolerance for a float32 frontend against gold [frames, features].
    log-mel (ln units, x 10/ln10 for dB): 2e-3 + 1e-4|b| + 32 eps32 exp(depth/2), depth = how far the
      band lies below the frame's loudest band in ln units: float32 FFT error is relative to the
      frame's energy, so a band 2*depth below it carries relative error ~eps*exp(depth/2).
    cepstra: 5e-3 (g_n + |b|), g_n the lifter gain of coefficient n (1 without a lifter).
    rms: 1e-4 |b| + 1e-7. zcr: 1e-6 (the count must be exact: one crossing is 1/frameLength).
    f0: 1e-2 semitone, only on frames whose golden voicing is > 0.5 (elsewhere the lag is that of a
      noise peak, and a near-tie may pick another one). voicing: 1e-4.
    deltas: 0.6 x the largest tolerance in the 5-frame window (sum |k| / sum k^2 = 6/10)."""
    T = gold.shape[0]
    nb = cfg['mfcc'] or cfg['melBands']
    base = []
    if cfg['mfcc'] == 0:
        u = 1.0 if cfg['log'] == 'ln' else 10 / math.log(10)
        b = gold[:, :nb].astype(np.float64)
        depth = (b.max(axis=1, keepdims=True) - b) / u
        base.append(u * (2e-3 + 32 * EPS32 * np.exp(depth / 2)) + 1e-4 * np.abs(b))
    else:
        L = cfg['lifter']
        g = 1 + (L / 2) * np.sin(np.pi * np.arange(nb) / L) if L > 0 else np.ones(nb)
        base.append(5e-3 * (g + np.abs(gold[:, :nb])))
    ex = cfg['extras']
    voiced = gold[:, nb + ex.index('voicing')] > VOICED if 'voicing' in ex else np.ones(T, bool)
    for j, e in enumerate(ex):
        b = gold[:, nb + j:nb + j + 1].astype(np.float64)
        base.append({'rms': 1e-4 * np.abs(b) + 1e-7, 'zcr': np.full((T, 1), 1e-6),
                     'f0': np.where(voiced, F0_TOL, np.inf)[:, None], 'voicing': np.full((T, 1), VOICING_TOL)}[e])
    t = np.concatenate(base, axis=1)
    out = [t]
    for _ in range(cfg['deltas']):
        t = 0.6 * np.stack([t[np.clip(np.arange(T) + k, 0, T - 1)] for k in range(-2, 3)]).max(axis=0)
        out.append(t)
    return np.concatenate(out, axis=1)


MISTAKES = [
    ('symmetric window', {'symmetric_window': True}, None),
    ('frames start 1 sample late', {'offset': 1}, None),
    ('other mel scale (htk<->slaney)', {'other_mel_scale': True}, None),
    ('mel norm toggled (slaney<->none)', {'other_mel_norm': True}, None),
    ('DCT norm=None instead of ortho', {'dct_norm': None}, lambda c: c['mfcc'] > 0),
    ('DCT ortho but c0 not /sqrt(2)', {'dct_c0_unscaled': True}, lambda c: c['mfcc'] > 0),
    ('zcr counts x > 0 not x >= 0', {'zcr_strict': True}, lambda c: 'zcr' in c['extras']),
    ('rms of the pre-emphasised frame', {'rms_preemph': True}, lambda c: 'rms' in c['extras']),
    ('deltas zero-padded, not replicated', {'deltas_zero_pad': True}, lambda c: c['deltas'] > 0),
    ('pitch: frame mean not removed', {'pitch_keep_dc': True}, lambda c: 'f0' in c['extras']),
    ('pitch: tau* = the best lag (no octave guard)', {'pitch_argmax': True}, lambda c: 'f0' in c['extras']),
    ('pitch: no parabolic interpolation', {'pitch_no_interpolation': True}, lambda c: 'f0' in c['extras']),
]


def report(clips, configs):
    """Prints, per deviation and config, the worst |err|/tol over the clips and the share of values
    outside tolerance. 'float32 radix-2 (correct)' must stay below 1; every bug must exceed it."""
    rows = [('float32 radix-2 (correct)', {'f32': True}, None)] + MISTAKES
    for name, v, applies in rows:
        for cname, cfg in configs.items():
            if applies and not applies(cfg):
                continue
            worst, bad, total, counts = 0.0, 0, 0, set()
            for clip, (s, _) in clips.items():
                gold = features(s, cfg).astype(np.float32)
                got = features(s, cfg, v).astype(np.float32)
                if got.shape != gold.shape:
                    counts.add(f'{got.shape[0]} vs {gold.shape[0]} frames')
                    got = got[:gold.shape[0]]
                r = np.abs(got.astype(np.float64) - gold) / tolerance(cfg, gold)
                worst, bad, total = max(worst, r.max()), bad + int((r > 1).sum()), total + r.size
            extra = f' (frame count {", ".join(sorted(counts))})' if counts else ''
            print(f'{name:36s} {cname:8s} worst err/tol {worst:9.3g}  outside tol {100 * bad / total:6.2f}%{extra}')


if __name__ == '__main__':
    if '--mistakes' in sys.argv:
        report(load_clips(), CONFIGS)
    else:
        write_fixtures()
