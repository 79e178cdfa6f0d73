/**
 * What the daemon reports about itself (one snapshot type), rendered two ways: the /healthz
 * verdict and the Prometheus text exposition format (version 0.0.4,
 * https://prometheus.io/docs/instrumenting/exposition_formats/). Units follow Prometheus naming:
 * seconds and bytes, `_total` for counters.
 */
import type { CaptureConditionKind } from '../runtime/capture/source.ts';
import type { PipelineStats } from '../runtime/pipeline/stats.ts';

export const CONDITION_KINDS: readonly Exclude<CaptureConditionKind, 'recovered'>[] = ['no-data', 'device-lost', 'flatline'];

export interface DaemonSnapshot {
  version: string;
  model: string;
  source: string;
  deviceId: string;
  uptimeSec: number;
  stopping: boolean;
  pipeline: PipelineStats & {
    /** false when an inference has been running without progress for too long */
    alive: boolean;
    /** sum and count of result latencies (ms) since start, for the summary's _sum/_count */
    latencySumMs: number;
    inferenceLatencySumMs: number;
  };
  capture: {
    /** the privacy switch: false = audio is not processed (src/daemon/listening.ts); absent = on */
    listening?: boolean;
    /** when the switch was last set (ISO 8601), so a page can tell a newer state from an older one */
    listeningSince?: string;
    /** a chunk arrived within capture.stallTimeoutMs */
    delivering: boolean;
    /** ms since the last chunk; null before the first */
    lastChunkAgoMs: number | null;
    chunks: number;
    /** the condition in force now (null when healthy) */
    condition: CaptureConditionKind | null;
    conditionDetail: string | null;
    /** conditions reported since start, by kind */
    conditions: Record<Exclude<CaptureConditionKind, 'recovered'>, number>;
    restarts: number;
  };
  mqtt: {
    connected: boolean;
    url: string;
    embedded: boolean;
    queueDepth: number;
    droppedEvents: number;
    /** why the on-disk event queue holds events in memory only (disk full or failing); null when fine */
    queueDegraded?: string | null;
    /** events handed to the publisher (queued on disk) */
    events: number;
  };
  process: { rssBytes: number; heapUsedBytes: number; cpuUserSec: number; cpuSystemSec: number };
}

export interface HealthVerdict {
  healthy: boolean;
  body: Record<string, unknown>;
}

/**
 * Healthy = capture delivers and the pipeline is alive. An unreachable broker is NOT unhealthy:
 * events wait in the on-disk queue, and restarting the daemon would not bring the broker back.
 */
export function healthOf(s: DaemonSnapshot): HealthVerdict {
  const problems: string[] = [];
  if (s.stopping) problems.push('shutting down');
  // listening switched off is a choice, not a fault: no audio is expected
  if (s.capture.listening !== false && !s.capture.delivering) {
    problems.push(s.capture.lastChunkAgoMs === null ? `no audio from ${s.source} yet` : `no audio from ${s.source} for ${Math.round(s.capture.lastChunkAgoMs)} ms`);
  }
  if (s.capture.listening !== false && s.capture.condition && s.capture.condition !== 'recovered') problems.push(`capture ${s.capture.condition}: ${s.capture.conditionDetail}`);
  if (!s.pipeline.alive) problems.push('an inference has been running for too long: the model looks stuck');
  // Degraded, still healthy: a restart would not free the disk, and events wait in memory meanwhile.
  const warnings: string[] = [];
  if (s.mqtt.queueDegraded) warnings.push(`event queue not on disk (${s.mqtt.queueDegraded}): events are held in memory and lost on a restart; free space in the state directory`);
  return {
    healthy: problems.length === 0,
    body: {
      status: problems.length > 0 ? 'unhealthy' : warnings.length > 0 ? 'degraded' : 'ok',
      problems,
      ...(warnings.length > 0 ? { warnings } : {}),
      uptimeSec: Math.round(s.uptimeSec),
      version: s.version,
      model: s.model,
      capture: { source: s.source, listening: s.capture.listening !== false, delivering: s.capture.delivering, lastChunkAgoMs: s.capture.lastChunkAgoMs === null ? null : Math.round(s.capture.lastChunkAgoMs), condition: s.capture.condition, restarts: s.capture.restarts },
      pipeline: { alive: s.pipeline.alive, realTimeFactor: s.pipeline.realTimeFactor, results: s.pipeline.results, inFlight: s.pipeline.inFlight },
      mqtt: { connected: s.mqtt.connected, url: s.mqtt.url, queueDepth: s.mqtt.queueDepth, droppedEvents: s.mqtt.droppedEvents, queueDegraded: s.mqtt.queueDegraded ?? null },
    },
  };
}

/** Label values escaped as the exposition format requires. */
const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

class Exposition {
  private readonly lines: string[] = [];
  metric(name: string, type: 'counter' | 'gauge' | 'summary', help: string, samples: [labels: Record<string, string> | null, value: number, suffix?: string][]): this {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value, suffix] of samples) {
      const l = labels ? `{${Object.entries(labels).map(([k, v]) => `${k}="${esc(v)}"`).join(',')}}` : '';
      this.lines.push(`${name}${suffix ?? ''}${l} ${Number.isFinite(value) ? value : 'NaN'}`);
    }
    return this;
  }
  one(name: string, type: 'counter' | 'gauge', help: string, value: number): this {
    return this.metric(name, type, help, [[null, value]]);
  }
  toString(): string {
    return `${this.lines.join('\n')}\n`;
  }
}

export function prometheusText(s: DaemonSnapshot): string {
  const p = s.pipeline;
  const c = s.capture;
  const ms = (v: number) => v / 1000;
  return new Exposition()
    .metric('earshot_info', 'gauge', 'Version, model and source of this daemon (always 1).', [[{ version: s.version, model: s.model, source: s.source, device_id: s.deviceId }, 1]])
    .one('earshot_uptime_seconds', 'gauge', 'Seconds since the daemon started.', s.uptimeSec)
    .one('earshot_healthy', 'gauge', '1 when /healthz answers 200.', healthOf(s).healthy ? 1 : 0)
    .one('earshot_audio_seconds_total', 'counter', 'Seconds of audio captured and processed.', p.audioSeconds)
    .one('earshot_frames_total', 'counter', 'Feature frames computed by the frontend.', p.framesProcessed)
    .one('earshot_speech_frames_total', 'counter', 'Frames the voice activity detector found active.', p.speechFrames)
    .one('earshot_real_time_factor', 'gauge', 'Processing time / audio time since start (below 1 keeps up).', p.realTimeFactor)
    .metric('earshot_event_latency_seconds', 'summary', 'From the arrival of the last audio of an utterance to its result (includes the VAD hang-over), over the recent results.', [
      [{ quantile: '0.5' }, ms(p.latencyMs.p50)],
      [{ quantile: '0.99' }, ms(p.latencyMs.p99)],
      [null, ms(p.latencySumMs), '_sum'],
      [null, p.results, '_count'],
    ])
    .metric('earshot_inference_latency_seconds', 'summary', 'From handing a segment to the model to its result, over the recent results.', [
      [{ quantile: '0.5' }, ms(p.inferenceLatencyMs.p50)],
      [{ quantile: '0.99' }, ms(p.inferenceLatencyMs.p99)],
      [null, ms(p.inferenceLatencySumMs), '_sum'],
      [null, p.results, '_count'],
    ])
    .one('earshot_segments_total', 'counter', 'Speech segments handed to the model.', p.segments)
    .one('earshot_events_total', 'counter', 'Emotion events produced.', p.results)
    .one('earshot_state_changes_total', 'counter', 'Changes of the smoothed emotion state.', p.stateChanges)
    .one('earshot_dropped_frames_total', 'counter', 'Audio frames lost upstream of the pipeline (gaps in capture timestamps).', p.droppedFrames)
    .one('earshot_dropped_inferences_total', 'counter', 'Segments dropped because an inference was already running and the queue was full.', p.droppedInferences)
    .one('earshot_short_segments_total', 'counter', 'Speech segments shorter than the model minimum, skipped.', p.segmentsDropped)
    .one('earshot_crowd_suppressed_total', 'counter', 'Utterances with no dominant talker, not published (pipeline.crowd suppress).', p.crowdSuppressed ?? 0)
    .one('earshot_crowd_marked_total', 'counter', 'Utterances with no dominant talker, published with crowd: true (pipeline.crowd mark).', p.crowdMarked ?? 0)
    .one('earshot_inference_errors_total', 'counter', 'Inferences that failed.', p.inferenceErrors)
    .one('earshot_inference_in_flight', 'gauge', '1 while an inference runs.', p.inFlight ? 1 : 0)
    .one('earshot_inference_queue_depth', 'gauge', 'Segments waiting for the running inference.', p.queued)
    .one('earshot_pipeline_alive', 'gauge', '0 when an inference looks stuck.', p.alive ? 1 : 0)
    .one('earshot_listening', 'gauge', '1 when listening is on (the privacy switch), 0 when audio is not processed.', c.listening !== false ? 1 : 0)
    .one('earshot_capture_delivering', 'gauge', '1 when audio arrived within capture.stallTimeoutMs.', c.delivering ? 1 : 0)
    .one('earshot_capture_chunks_total', 'counter', 'Audio chunks received from the capture source.', c.chunks)
    .one('earshot_capture_restarts_total', 'counter', 'Capture source restarts after a failure or condition.', c.restarts)
    .metric('earshot_capture_condition', 'gauge', '1 for the capture condition in force now.', CONDITION_KINDS.map((k) => [{ kind: k }, c.condition === k ? 1 : 0]))
    .metric('earshot_capture_conditions_total', 'counter', 'Capture conditions reported since start.', CONDITION_KINDS.map((k) => [{ kind: k }, c.conditions[k]]))
    .one('earshot_mqtt_connected', 'gauge', '1 while connected to the MQTT broker.', s.mqtt.connected ? 1 : 0)
    .one('earshot_mqtt_queue_depth', 'gauge', 'Events waiting in the on-disk queue for the broker.', s.mqtt.queueDepth)
    .one('earshot_mqtt_dropped_events_total', 'counter', 'Events discarded: the queue was full, or the disk refused them until the daemon stopped.', s.mqtt.droppedEvents)
    .one('earshot_mqtt_queue_degraded', 'gauge', '1 while the disk refuses the event queue and events are held in memory.', s.mqtt.queueDegraded ? 1 : 0)
    .one('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.', s.process.rssBytes)
    .one('process_cpu_seconds_total', 'counter', 'User and system CPU time in seconds.', s.process.cpuUserSec + s.process.cpuSystemSec)
    .one('nodejs_heap_used_bytes', 'gauge', 'V8 heap in use, bytes.', s.process.heapUsedBytes)
    .toString();
}
