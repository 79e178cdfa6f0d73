"""Golden feature vectors for the earshot frontend, from an independent reference.

Regenerate (Debian python3-torch 1.13 / python3-torchaudio 0.13, NOT a venv python):

    /usr/bin/python3 scripts/golden.py              # writes test/fixtures/golden/
    /usr/bin/python3 scripts/golden.py --mistakes   # prints how far typical bugs land vs the test tolerances

Everything is computed in float64 with torch/torchaudio and saved as float32. Definitions (the
contract of src/frontend/config.ts; field names are earshot's):
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
 8. Extras after the cepstra, in config order, on the RAW frame x[i*hop : i*hop+frameLength]
    (not pre-emphasised, not windowed): 'rms' = sqrt(mean(x^2)); 'zcr' = #{j in 1..frameLength-1 :
    (x[j-1] >= 0) != (x[j] >= 0)} / frameLength.
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
}

CORPUS_CLIPS = {
    'ravdess': ('ravdess/Actor_01/03-01-05-02-01-01-01.flac', 'RAVDESS (CC BY-NC-SA 4.0), actor 01, angry, strong'),
    'tess': ('tess/YAF_angry/YAF_back_angry.flac', 'TESS (CC BY-NC-ND 4.0), YAF, "back", angry'),
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


def window(cfg, dtype=torch.float64):
    L = cfg['frameLength']
    if cfg['window'] == 'hann':
        return torch.hann_window(L, periodic=True, dtype=dtype)
    if cfg['window'] == 'hamming':
        return torch.hamming_window(L, periodic=True, alpha=0.54, beta=0.46, dtype=dtype)
    return torch.ones(L, dtype=dtype)


def preemphasis(x, a):
    """Step 2, written out: torchaudio 0.13 has no functional.preemphasis (it arrived in 2.0), and
    lfilter would clamp to [-1, 1], which full-scale input exceeds after pre-emphasis."""
    y = x.clone()
    y[1:] -= a * x[:-1]
    return y


def log_mel(x, cfg, win=None, fb=None, framing_offset=0):
    """Steps 2-6. x: float64 tensor in [-1, 1]. win/fb/framing_offset exist so --mistakes can swap them."""
    L, hop, nfft = cfg['frameLength'], cfg['hopLength'], cfg['fftSize']
    y = preemphasis(x, cfg['preEmphasis'])
    frames = y[framing_offset:].unfold(0, L, hop)  # [frames, L]
    w = window(cfg) if win is None else win
    power = torch.fft.rfft(frames * w, n=nfft).abs() ** 2
    if fb is None:
        fb = AF.melscale_fbanks(nfft // 2 + 1, f_min=float(cfg['fMin']), f_max=float(cfg['fMax']), n_mels=cfg['melBands'],
                                sample_rate=cfg['sampleRate'], norm=cfg['melNorm'], mel_scale=cfg['melScale'])
    mel = (power @ fb).clamp_min(cfg['logFloor'])
    return torch.log(mel) if cfg['log'] == 'ln' else 10 * torch.log10(mel)


def cepstra(logmel, cfg, dct_norm='ortho'):
    """Step 7."""
    if cfg['mfcc'] == 0:
        return logmel
    c = logmel @ AF.create_dct(cfg['mfcc'], cfg['melBands'], norm=dct_norm)
    L = cfg['lifter']
    if L > 0:
        n = torch.arange(cfg['mfcc'], dtype=torch.float64)
        c = c * (1 + (L / 2) * torch.sin(math.pi * n / L))
    return c


def extras(x, cfg):
    """Step 8, on the raw (not pre-emphasised, not windowed) frames."""
    frames = x.unfold(0, cfg['frameLength'], cfg['hopLength'])
    cols = []
    for e in cfg['extras']:
        if e == 'rms':
            cols.append(torch.sqrt((frames ** 2).mean(dim=1)))
        else:
            s = frames >= 0
            cols.append((s[:, 1:] != s[:, :-1]).sum(dim=1).to(torch.float64) / cfg['frameLength'])
    return torch.stack(cols, dim=1) if cols else torch.zeros(frames.shape[0], 0)


def with_deltas(base, cfg):
    """Step 9: deltas over time (compute_deltas works along the last axis, hence the transposes)."""
    out = [base]
    if cfg['deltas'] >= 1:
        d = AF.compute_deltas(base.T.contiguous(), win_length=5, mode='replicate').T
        out.append(d)
        if cfg['deltas'] == 2:
            out.append(AF.compute_deltas(d.T.contiguous(), win_length=5, mode='replicate').T)
    return torch.cat(out, dim=1)


def features(s16, cfg):
    x = torch.from_numpy(s16.astype(np.float64) / 32768.0)
    base = torch.cat([cepstra(log_mel(x, cfg), cfg), extras(x, cfg)], dim=1)
    feats = with_deltas(base, cfg)
    n = len(s16)
    assert feats.shape[0] == 1 + (n - cfg['frameLength']) // cfg['hopLength']
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


if __name__ == '__main__':
    if '--mistakes' in sys.argv:
        from golden_mistakes import report  # scripts/golden_mistakes.py
        report(load_clips(), CONFIGS)
    else:
        write_fixtures()
