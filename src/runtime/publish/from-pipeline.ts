/**
 * The pipeline's results mapped onto the MQTT payloads. The pipeline emits its own types and
 * knows nothing of the wire format; this is the one place where the two meet.
 */
import type { PipelineResult, PipelineState } from '../pipeline/types.ts';
import { round3, roundProbabilities, type EmotionEvent, type EmotionState } from './payloads.ts';

/**
 * The `events` payload for a result; `id` comes from the publisher's side. Numbers are rounded to
 * 3 decimals; the device (the topic says it) and the end (`start + durationMs`) are left out, and
 * `kind` is written for windows only, which keeps an event of eight labels near 330 bytes.
 */
export function toEmotionEvent(r: PipelineResult, id: string): EmotionEvent {
  return {
    id,
    start: r.start,
    durationMs: r.durationMs,
    label: r.label,
    confidence: round3(r.confidence),
    probabilities: roundProbabilities(r.probabilities),
    arousal: round3(r.arousal),
    valence: round3(r.valence),
    model: r.model,
    ...(r.kind === 'window' ? { kind: 'window' as const } : {}),
    adapted: r.adapted,
    ...(r.crowd ? { crowd: true } : {}),
  };
}

/** When the audio of an event ended (ms since the epoch): `start + durationMs` (or `end`, in events queued before 0.2). */
export const eventEndMs = (e: Pick<EmotionEvent, 'start' | 'durationMs' | 'end'>): number => (e.end ? Date.parse(e.end) : Date.parse(e.start) + e.durationMs);

/** The retained `emotion` payload for a state change, rounded to 3 decimals. */
export function toEmotionState(s: PipelineState): EmotionState {
  return { label: s.label, confidence: round3(s.confidence), probabilities: roundProbabilities(s.probabilities), arousal: round3(s.arousal), valence: round3(s.valence), timestamp: s.timestamp, model: s.model };
}
