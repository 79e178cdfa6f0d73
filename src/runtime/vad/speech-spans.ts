/**
 * The VAD's speech spans over a whole signal, in frames of a frontend: what the pipeline's
 * utterance segments are made of (FrameEnergy + EnergyVad with the same framing and config), for
 * training a model on the stretches of audio the daemon will classify. The pipeline then cuts
 * spans longer than maxUtteranceSeconds and drops those shorter than the model's minFrames.
 */
import type { FrontendConfig } from '../frontend/config.ts';
import { EnergyVad, type VadConfigInput } from './energy-vad.ts';
import { FrameEnergy } from './frame-energy.ts';

/** [startFrame, endFrame) pairs, in order. */
export type Span = [number, number];

export function speechSpans(samples: Float32Array, frontend: Pick<FrontendConfig, 'frameLength' | 'hopLength' | 'sampleRate'>, vad: VadConfigInput = {}): Span[] {
  const spans: Span[] = [];
  let start = -1;
  const detector = new EnergyVad(vad, frontend.hopLength / frontend.sampleRate, {
    speechStart: (f) => (start = f),
    speechActive: () => {},
    speechEnd: (f) => spans.push([start, f]),
  });
  const energy = new FrameEnergy(frontend.frameLength, frontend.hopLength);
  const n = energy.push(samples);
  const levels = energy.levels();
  for (let i = 0; i < n; i++) detector.step(levels[i]);
  detector.finish();
  return spans;
}
