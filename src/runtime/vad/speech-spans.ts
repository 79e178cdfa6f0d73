/**
 * The VAD's speech spans over a whole signal, in frames of a frontend: what the pipeline's
 * utterance segments are made of (the same VoiceDetector with the same framing and config), for
 * training a model on the stretches of audio the daemon will classify. The pipeline then cuts
 * spans longer than maxUtteranceSeconds and drops those shorter than the model's minFrames.
 */
import type { FrontendConfig } from '../frontend/config.ts';
import { VAD_DEFAULTS, type VadConfig } from './config.ts';
import { VoiceDetector } from './voice-detector.ts';

/** [startFrame, endFrame) pairs, in order. */
export type Span = [number, number];

/** `calls`, when given, is increased by the Silero network calls made (for cost accounting). */
export function speechSpans(samples: Float32Array, frontend: Pick<FrontendConfig, 'frameLength' | 'hopLength' | 'sampleRate'>, vad: VadConfig = VAD_DEFAULTS, calls?: { n: number }): Span[] {
  const spans: Span[] = [];
  let start = -1;
  const detector = new VoiceDetector(vad, frontend, {
    speechStart: (f) => (start = f),
    speechActive: () => {},
    speechEnd: (f) => spans.push([start, f]),
  });
  detector.push(samples);
  detector.finish();
  if (calls) calls.n += detector.networkCalls;
  return spans;
}
