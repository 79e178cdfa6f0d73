/**
 * Which broker a daemon without `mqtt.url` publishes to. A box set up as the README says runs
 * Mosquitto on 127.0.0.1:1883; publishing anywhere else would leave `mosquitto_sub -t 'earshot/#'`
 * on that box silent. So: ask the loopback port (embeddedBroker.host:port, default
 * 127.0.0.1:1883) whether an MQTT broker answers (an MQTT 3.1.1 CONNECT answered by a CONNACK,
 * MQTT-3.1.1 section 3.1 and 3.2, within a short timeout); if one does, use it; if not, start the
 * embedded broker there, or on a free port when something that is not a broker holds it. A
 * configured `mqtt.url` never comes here: the embedded broker never replaces a configured one.
 */
import { connect as tcpConnect } from 'node:net';
import type { EmbeddedBroker } from './embedded-broker.ts';

/** How long a local broker gets to answer the probe: loopback answers in well under 10 ms. */
export const PROBE_TIMEOUT_MS = 1000;

/** The CONNECT packet of an anonymous, clean MQTT 3.1.1 session with client id `id` (ASCII). */
function connectPacket(id: string): Buffer {
  const body = Buffer.concat([
    Buffer.from([0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x0a]), // "MQTT", level 4, clean session, keepalive 10 s
    Buffer.from([id.length >> 8, id.length & 0xff]),
    Buffer.from(id, 'latin1'),
  ]);
  return Buffer.concat([Buffer.from([0x10, body.length]), body]);
}

/**
 * True when an MQTT broker answers on host:port: any CONNACK counts, a refused login too (then
 * it is a broker that wants credentials, which the publisher reports with what to set).
 */
export function probeMqttBroker(host: string, port: number, timeoutMs = PROBE_TIMEOUT_MS): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host, port });
    let got = Buffer.alloc(0);
    const done = (answer: boolean) => {
      clearTimeout(timer);
      socket.removeAllListeners('data');
      if (answer) socket.end(Buffer.from([0xe0, 0x00])); // DISCONNECT: the broker drops the session quietly
      else socket.destroy();
      socket.on('error', () => undefined);
      resolve(answer);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write(connectPacket(`earshot-probe-${process.pid}`)));
    socket.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length >= 4) done(got[0] === 0x20 && got[1] === 0x02);
    });
    socket.once('close', () => done(false));
  });
}

export interface LocalBrokerChoice {
  url: string;
  /** the embedded broker when one was started, else null (a local broker answered) */
  embedded: EmbeddedBroker | null;
}

export interface LocalBrokerContext {
  host: string;
  /** 0: no probe, the embedded broker on any free port */
  port: number;
  start(opts: { host: string; port: number }): Promise<EmbeddedBroker>;
  probe?: typeof probeMqttBroker;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

/** Uses the broker on host:port if it answers, else starts the embedded one; says which, once. */
export async function chooseLocalBroker(ctx: LocalBrokerContext): Promise<LocalBrokerChoice> {
  const { host, port, log } = ctx;
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  if (port !== 0 && (await (ctx.probe ?? probeMqttBroker)(host, port))) {
    const url = `mqtt://${where}`;
    log.info({ url, embedded: false }, `no mqtt.url configured: an MQTT broker answers on ${where}, publishing there (set mqtt.url or --broker to choose another)`);
    return { url, embedded: null };
  }
  let broker: EmbeddedBroker;
  try {
    broker = await ctx.start({ host, port });
  } catch (e) {
    const cause = (e as { cause?: NodeJS.ErrnoException }).cause;
    if (port === 0 || cause?.code !== 'EADDRINUSE') throw e;
    broker = await ctx.start({ host, port: 0 });
    log.warn({ wanted: port, port: broker.port }, `port ${port} is taken by something that is not an MQTT broker: the embedded broker listens on ${broker.url} instead`);
  }
  log.info({ url: broker.url, embedded: true }, `no mqtt.url configured and no broker on ${where}: embedded MQTT broker (aedes) listening on ${broker.url}`);
  return { url: broker.url, embedded: broker };
}
