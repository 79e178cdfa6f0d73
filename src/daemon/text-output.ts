/**
 * Output for a person at a terminal: each pino line becomes `12:00:03 INFO  message  key=value`,
 * and each `--stdout` event `12:00:03 happy 94% (1.4 s)`. JSON stays the format for pipes, files
 * and journald (`log.format`: `auto` picks text only when the stream is a terminal).
 */
import { writeSync } from 'node:fs';
import type { EmotionEvent } from '../runtime/publish/payloads.ts';
import { eventEndMs } from '../runtime/publish/from-pipeline.ts';

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };
/** Fields every line has or that a person does not need. */
const HIDDEN = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'name', 'v']);
/** Longer structured values are left to the JSON format (the startup config is ~1,300 characters). */
const MAX_FIELD = 80;

export type OutputFormat = 'text' | 'json';

/** `auto` -> text on a terminal, JSON otherwise. */
export function resolveFormat(format: 'auto' | 'text' | 'json', isTTY: boolean | undefined): OutputFormat {
  return format === 'auto' ? (isTTY ? 'text' : 'json') : format;
}

const hms = (d: Date) => d.toTimeString().slice(0, 8);

function fieldText(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return /\s/.test(v) ? JSON.stringify(v) : v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v === 'object' && 'message' in (v as object) && typeof (v as { message: unknown }).message === 'string') return JSON.stringify((v as { message: string }).message);
  const j = JSON.stringify(v);
  return j.length <= MAX_FIELD ? j : null;
}

/** One pino JSON line as one readable line (the line back unchanged if it is not JSON). */
export function formatLogLine(line: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  const time = typeof o.time === 'string' || typeof o.time === 'number' ? new Date(o.time) : new Date();
  const fields = Object.entries(o)
    .filter(([k]) => !HIDDEN.has(k))
    .map(([k, v]) => [k, fieldText(v)] as const)
    .filter(([, v]) => v !== null)
    .map(([k, v]) => `${k}=${v}`);
  return `${hms(time)} ${LEVELS[o.level as number] ?? String(o.level)} ${String(o.msg ?? '')}${fields.length ? `  ${fields.join(' ')}` : ''}\n`;
}

/** A pino destination that writes readable lines to `fd`, synchronously (the last lines before an exit are kept). */
export function textDestination(fd: number): { write(line: string): void } {
  return {
    write(chunk: string) {
      for (const line of chunk.split('\n')) if (line) writeSync(fd, formatLogLine(line));
    },
  };
}

/** `12:00:03 happy 94% (1.4 s)` */
export function formatEventLine(e: EmotionEvent): string {
  return `${hms(new Date(eventEndMs(e)))} ${e.label} ${Math.round(e.confidence * 100)}% (${(e.durationMs / 1000).toFixed(1)} s)\n`;
}

/** What a demo prints before it starts: model, broker and the topics to watch. */
export function demoHeader(o: { model: string; broker: string; embedded: boolean; base: string; source: string }): string {
  return [
    `earshot demo: ${o.source}`,
    `  model   ${o.model}`,
    `  broker  ${o.broker}${o.embedded ? ' (embedded, gone when the demo ends)' : ''}`,
    `  topics  ${o.base}/events (one per utterance), ${o.base}/emotion (retained state)`,
    `  watch   mosquitto_sub -h ${new URL(o.broker).hostname} -p ${new URL(o.broker).port || 1883} -t '${o.base}/#' -v`,
    '',
  ].join('\n');
}

/** The closing lines: how many utterances, which labels. */
export function demoSummary(events: readonly EmotionEvent[], seconds: number): string {
  const counts = new Map<string, number>();
  for (const e of events) counts.set(e.label, (counts.get(e.label) ?? 0) + 1);
  const labels = [...counts].sort((a, b) => b[1] - a[1]).map(([l, n]) => `${l} ${n}`).join(', ');
  return `\n${events.length} utterance${events.length === 1 ? '' : 's'} classified in ${seconds.toFixed(1)} s${labels ? `: ${labels}` : ''}. Next: \`earshot run\` with a microphone, \`earshot analyze FILE\`, README "MQTT" for the topics.\n`;
}
