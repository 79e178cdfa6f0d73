"""torchaudio's batch MFCC on the audio earshot bench hands over (float32 raw, 16 kHz), for a
side-by-side reference: one thread, 512-point FFT, 40 mels, 20 MFCCs, hop 160, best of 20.
Prints us_per_frame=<float>. Run by `earshot bench --torch` with /usr/bin/python3."""
import sys, time
import numpy as np
import torch, torchaudio

torch.set_num_threads(1)
x = torch.from_numpy(np.fromfile(sys.argv[1], dtype='<f4'))
mfcc = torchaudio.transforms.MFCC(sample_rate=16000, n_mfcc=20, log_mels=True,
                                  melkwargs=dict(n_fft=512, win_length=512, hop_length=160, n_mels=40, center=False, f_min=20.0, f_max=8000.0))
with torch.inference_mode():
    out = mfcc(x)
    frames = out.shape[-1]
    best = float('inf')
    for _ in range(20):
        t0 = time.perf_counter(); mfcc(x); best = min(best, time.perf_counter() - t0)
print(f'frames={frames} us_per_frame={best * 1e6 / frames:.3f}')
