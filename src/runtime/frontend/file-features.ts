/**
 * File -> features: decode (WAV/FLAC/AIFF), resample to the frontend's rate, run the frontend over
 * the whole signal. Shared by `earshot features`, `analyze` and `eval`, so a file gives the same
 * features everywhere.
 */
import { decodeAudioFile } from '../audio/decode.ts';
import { EarshotError } from '../../core/errors.ts';
import { frameCount } from './config.ts';
import type { Frontend } from './frontend.ts';
import { resample } from './resampler.ts';

export interface FileFeatures {
  /** [frames * dim] row-major */
  data: Float32Array;
  frames: number;
  dim: number;
  /** the file's own rate before resampling */
  sourceRate: number;
  durationSec: number;
  /** the signal the frontend saw (at its rate) */
  samples: Float32Array;
}

export async function fileFeatures(path: string, frontend: Frontend): Promise<FileFeatures> {
  const audio = await decodeAudioFile(path);
  const rate = frontend.config.sampleRate;
  const samples = audio.sampleRate === rate ? audio.samples : resample(audio.samples, audio.sampleRate, rate);
  if (frameCount(frontend.config, samples.length) === 0) {
    throw new EarshotError(
      'E_AUDIO_FORMAT',
      `${path}: only ${(audio.durationSec * 1000).toFixed(1)} ms of audio, shorter than one frame (${((frontend.config.frameLength / rate) * 1000).toFixed(1)} ms); nothing to analyse`,
    );
  }
  const data = frontend.computeAll(samples);
  return { data, frames: data.length / frontend.dim, dim: frontend.dim, sourceRate: audio.sampleRate, durationSec: audio.durationSec, samples };
}
