// The daemon as a child process and an MQTT subscriber, shared by the end-to-end tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import type { EmotionEvent } from '../../src/runtime/publish/payloads.ts';
import { ROOT } from './paths.ts';

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

export interface Daemon {
  child: ChildProcess;
  /** events printed on stdout (--stdout), in order */
  events: EmotionEvent[];
  stderr(): string;
  /** parsed pino lines */
  logs(): { level: number; msg: string; [k: string]: unknown }[];
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `earshot run --stdout ARGS` from the checkout's build; killed when the test process exits, if still running. */
export function spawnDaemon(args: string[], env: NodeJS.ProcessEnv = {}): Daemon {
  const child = spawn(process.execPath, ['bin/earshot.js', 'run', '--stdout', ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const events: EmotionEvent[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => events.push(JSON.parse(line) as EmotionEvent));
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    }),
  );
  return { child, events, stderr: () => stderr, logs: () => stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)), exit };
}

/** Kills a daemon that is still running (a test's clean-up). */
export const killDaemon = (c: ChildProcess) => c.exitCode === null && c.signalCode === null && c.kill('SIGKILL');

export interface Received { topic: string; payload: string; retain: boolean; at: number }
export interface Subscriber { client: MqttClient; messages: Received[]; on(topic: string): Received[] }

/** An MQTT 3.1.1 client subscribed to `topics` at QoS 1, recording every message; the caller ends it. */
export async function subscribe(url: string, topics: string[], opts: IClientOptions = {}): Promise<Subscriber> {
  const client = connect(url, { protocolVersion: 4, reconnectPeriod: 50, connectTimeout: 2000, ...opts });
  try {
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
  } catch (e) {
    client.end(true);
    throw e;
  }
  const messages: Received[] = [];
  client.on('message', (topic, payload, packet) => messages.push({ topic, payload: payload.toString(), retain: packet.retain, at: Date.now() }));
  await client.subscribeAsync(topics, { qos: 1 });
  return { client, messages, on: (t) => messages.filter((m) => m.topic === t) };
}
