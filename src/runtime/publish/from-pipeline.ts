/**
 * The pipeline's results mapped onto the MQTT payloads. The pipeline emits its own types and
 * knows nothing of the wire format; this is the one place where the two meet.
 */
import type { PipelineResult, PipelineState } from '../pipeline/types.ts';
import type { EmotionEvent, EmotionState } from './payloads.ts';

/** The `events` payload for a result; `id` and `deviceId` come from the publisher's side. */
export function toEmotionEvent(r: PipelineResult, id: string, deviceId: string): EmotionEvent {
  return {
    id,
    deviceId,
    start: r.start,
    end: r.end,
    durationMs: r.durationMs,
    label: r.label,
    confidence: r.confidence,
    probabilities: r.probabilities,
    arousal: r.arousal,
    valence: r.valence,
    model: r.model,
    kind: r.kind,
    adapted: r.adapted,
  };
}

/** The retained `emotion` payload for a state change. */
export function toEmotionState(s: PipelineState): EmotionState {
  return { label: s.label, confidence: s.confidence, probabilities: s.probabilities, arousal: s.arousal, valence: s.valence, timestamp: s.timestamp, model: s.model };
}
