/**
 * What each VAD choice costs: the VoiceDetector (frame energy + EnergyVad, plus the Silero network
 * for `silero` and `cascade`) run over the same audio, rounds interleaved, median reported. The
 * audio is handed in by the caller (`earshot bench --only vad` builds a quiet room, a noisy room and
 * speech), so this module needs nothing but the runtime. Figures: milliseconds of one core per
 * second of audio (= % of a core x 10; process CPU time, so other load on the machine does not count),
 * and Silero calls per second (31.25 = every 32 ms window).
 */
import { VoiceDetector } from '../runtime/vad/voice-detector.ts';
import { parseVadConfig, type VadKind } from '../runtime/vad/config.ts';
import { FRAMING_16K as FRAMING } from '../core/constants.ts';

export interface VadBenchStream {
  name: string;
  /** 16 kHz */
  samples: Float32Array;
}

export interface VadBenchRow {
  stream: string;
  vad: VadKind;
  /** ms of processing per second of audio (median over rounds) */
  msPerAudioSecond: number;
  /** share of one core at real time, % */
  corePercent: number;
  networkCallsPerSec: number;
  /** speech spans found */
  spans: number;
}


function runOnce(x: Float32Array, vad: VadKind): { ms: number; calls: number; spans: number } {
  let spans = 0;
  const d = new VoiceDetector(parseVadConfig({ kind: vad }), FRAMING, { speechStart() {}, speechActive() {}, speechEnd: () => spans++ });
  const chunk = FRAMING.sampleRate / 10; // 100 ms, as capture delivers
  // CPU time of the process, not wall time: on a shared machine the wall clock also counts the time
  // other processes held the core (the network runs on this thread: intraOpNumThreads 1)
  const c0 = process.cpuUsage();
  for (let i = 0; i < x.length; i += chunk) d.push(x.subarray(i, i + chunk));
  d.finish();
  const c = process.cpuUsage(c0);
  return { ms: (c.user + c.system) / 1000, calls: d.networkCalls, spans };
}

export function benchVad(streams: VadBenchStream[], kinds: readonly VadKind[], rounds = 5): VadBenchRow[] {
  const rows: VadBenchRow[] = [];
  for (const s of streams) {
    const seconds = s.samples.length / FRAMING.sampleRate;
    const times = new Map<VadKind, number[]>(kinds.map((k) => [k, []]));
    const last = new Map<VadKind, { calls: number; spans: number }>();
    runOnce(s.samples.subarray(0, FRAMING.sampleRate), 'silero'); // warm-up, 1 s: the network's first runs are slow
    for (let r = 0; r < rounds; r++) {
      for (const k of kinds) {
        const o = runOnce(s.samples, k);
        times.get(k)!.push(o.ms);
        last.set(k, o);
      }
    }
    for (const k of kinds) {
      const t = times.get(k)!.sort((a, b) => a - b);
      const ms = t[Math.floor(t.length / 2)] / seconds;
      rows.push({ stream: s.name, vad: k, msPerAudioSecond: ms, corePercent: ms / 10, networkCallsPerSec: last.get(k)!.calls / seconds, spans: last.get(k)!.spans });
    }
  }
  return rows;
}

export function vadBenchReport(rows: VadBenchRow[]): string {
  const lines = ['VAD cost per second of audio (VoiceDetector alone, 100 ms chunks, median of interleaved rounds):', ''];
  lines.push(`${'audio'.padEnd(44)}${'vad'.padEnd(9)}${'ms/s'.padStart(8)}${'% core'.padStart(9)}${'Silero/s'.padStart(10)}${'spans'.padStart(7)}`);
  for (const r of rows) lines.push(`${r.stream.padEnd(44)}${r.vad.padEnd(9)}${r.msPerAudioSecond.toFixed(3).padStart(8)}${r.corePercent.toFixed(3).padStart(9)}${r.networkCallsPerSec.toFixed(1).padStart(10)}${String(r.spans).padStart(7)}`);
  return lines.join('\n');
}
