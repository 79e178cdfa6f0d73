/**
 * Memory limits of the embedded broker (./embedded-broker.ts), so no local client can get the
 * daemon OOM-killed under the unit's MemoryMax. aedes buffers a whole PUBLISH before it parses it
 * (mqtt-packet waits for `remaining length` bytes) and keeps every retained message in memory, and
 * it has no option for either; so:
 *
 * - `maxPacketBytes`: every connection's bytes pass through a FrameMeter that reads each MQTT
 *   fixed header (MQTT-3.1.1 section 2.2: a type byte and a 1-4 byte remaining length) as it
 *   arrives and closes the connection as soon as a packet announces more than the cap, before its
 *   payload is buffered (Mosquitto: `max_packet_size`). MQTT over WebSockets gets the same meter
 *   and a WebSocket frame cap (ws `maxPayload`) a little above it.
 * - `maxRetainedMessages` / `maxRetainedBytes`: a ledger of the retained messages the broker holds;
 *   a retained PUBLISH that would go beyond either is refused (the client is disconnected, as
 *   MQTT 3.1.1 has no negative PUBACK). The daemon's own retained messages are counted but never
 *   refused, so a full store cannot take its status and discovery away. An empty retained payload
 *   clears a topic and always passes. (Mosquitto has no count cap: `retain_available false` or
 *   an ACL.)
 * - `maxConnections`: connections beyond it are closed at once (Mosquitto: `max_connections`).
 * - `maxInflightInbound`: per client, QoS 2 messages awaiting PUBREL (aedes' own option; its
 *   default of 1000 full-size packets would be 256 MB) (Mosquitto: `max_inflight_messages`).
 *
 * The defaults keep the broker's worst case near 64 x 256 kB in flight + 8 MiB retained, well
 * under the unit's MemoryMax=300M. docs/mqtt-limits.md lists the Mosquitto equivalents.
 */
import { Duplex } from 'node:stream';
import { z } from 'zod';

/** The limits as config keys of `embeddedBroker` (src/daemon/config.ts spreads this shape in). */
export const brokerLimitsShape = {
  /** Largest MQTT packet a client may send, bytes (fixed header included); bigger ones close its connection. Default 262144 (256 kB), at most 268435455 (MQTT's own maximum). */
  maxPacketBytes: z.number().int().min(1024).max(268_435_455).default(256 * 1024),
  /** Most retained messages held; a retained publish beyond it is refused (the daemon's own excepted). Default 1000. */
  maxRetainedMessages: z.number().int().min(1).max(1_000_000).default(1000),
  /** Most bytes (topics + payloads) of retained messages held; a retained publish beyond it is refused (the daemon's own excepted). Default 8388608 (8 MiB). */
  maxRetainedBytes: z.number().int().min(1024).max(1024 * 1024 * 1024).default(8 * 1024 * 1024),
  /** Most client connections at once (TCP and WebSockets together); more are closed at once. Default 64. */
  maxConnections: z.number().int().min(1).max(100_000).default(64),
  /** Per client: most QoS 2 messages received and awaiting PUBREL; beyond it the client is disconnected. Default 16. */
  maxInflightInbound: z.number().int().min(1).max(65535).default(16),
};
export const brokerLimitsSchema = z.strictObject(brokerLimitsShape);
export type BrokerLimits = z.output<typeof brokerLimitsSchema>;

/** Why a connection was closed or a publish refused, for the log. */
export type LimitViolation = { limit: keyof BrokerLimits; message: string };

/**
 * Follows MQTT packet boundaries in a byte stream without buffering: feed() returns a violation
 * as soon as a fixed header announces a packet larger than `maxBytes`.
 */
export class FrameMeter {
  private state: 'header' | 'length' | 'body' = 'header';
  private length = 0;
  private multiplier = 1;
  private lengthBytes = 0;
  private remaining = 0;
  constructor(private readonly maxBytes: number) {}

  feed(chunk: Uint8Array): LimitViolation | undefined {
    let i = 0;
    while (i < chunk.length) {
      if (this.state === 'header') {
        i++;
        this.state = 'length';
        this.length = 0;
        this.multiplier = 1;
        this.lengthBytes = 0;
      } else if (this.state === 'length') {
        const b = chunk[i++];
        this.length += (b & 0x7f) * this.multiplier;
        this.multiplier *= 128;
        this.lengthBytes++;
        if (b & 0x80) {
          // MQTT-3.1.1 section 2.2.3: at most four length bytes; the parser reports a fifth itself
          if (this.lengthBytes >= 4) return { limit: 'maxPacketBytes', message: 'malformed remaining length (more than 4 bytes)' };
          continue;
        }
        const total = 1 + this.lengthBytes + this.length;
        if (total > this.maxBytes) return { limit: 'maxPacketBytes', message: `a packet of ${total} bytes is over embeddedBroker.maxPacketBytes (${this.maxBytes})` };
        this.remaining = this.length;
        this.state = this.remaining > 0 ? 'body' : 'header';
      } else {
        const skip = Math.min(this.remaining, chunk.length - i);
        i += skip;
        this.remaining -= skip;
        if (this.remaining === 0) this.state = 'header';
      }
    }
    return undefined;
  }
}

/**
 * The connection aedes reads from: the same bytes, metered. On a violation the underlying
 * connection is destroyed before the oversized payload is read any further.
 */
export function meteredConnection(conn: Duplex, maxPacketBytes: number, onViolation: (v: LimitViolation) => void): Duplex {
  const meter = new FrameMeter(maxPacketBytes);
  const metered = new Duplex({
    read() {
      conn.resume();
    },
    write(chunk, _encoding, callback) {
      conn.write(chunk, callback);
    },
    // mqtt-packet corks the stream and writes a packet in 3-5 pieces; handed on one by one they left
    // as separate small TCP segments, and Nagle's algorithm held each later one for the client's
    // delayed ACK: 40-50 ms on every packet the broker sent (issue 32, measured on loopback: p50
    // decided -> MQTT 55-60 ms). Corked pieces arrive here together and leave as one write.
    writev(chunks, callback) {
      conn.write(chunks.length === 1 ? chunks[0].chunk : Buffer.concat(chunks.map((c) => c.chunk as Buffer)), callback);
    },
    final(callback) {
      conn.end(callback);
    },
    destroy(err, callback) {
      conn.destroy();
      callback(err);
    },
  });
  conn.on('data', (chunk: Buffer) => {
    if (metered.destroyed) return;
    const v = meter.feed(chunk);
    if (v) {
      onViolation(v);
      metered.destroy();
      return;
    }
    if (!metered.push(chunk)) conn.pause();
  });
  conn.on('end', () => metered.push(null));
  conn.on('error', (e) => metered.destroy(e));
  conn.on('close', () => metered.destroy());
  return metered;
}

/** What aedes' authorizePublish hands over; only the fields used here. */
interface RetainedPacket {
  topic: string;
  payload: Buffer | string;
  retain?: boolean;
}

/**
 * The retained messages the broker holds, by topic and size, kept in step with the publishes it
 * authorises: check() refuses one that would go beyond the caps.
 */
export class RetainedLedger {
  private readonly sizes = new Map<string, number>();
  private total = 0;
  constructor(private readonly limits: Pick<BrokerLimits, 'maxRetainedMessages' | 'maxRetainedBytes'>) {}

  get count(): number {
    return this.sizes.size;
  }

  get bytes(): number {
    return this.total;
  }

  /** Records a retained publish, or returns why it is refused (nothing recorded then). `exempt`: counted, never refused. */
  check(packet: RetainedPacket, exempt: boolean): LimitViolation | undefined {
    if (!packet.retain) return undefined;
    const previous = this.sizes.get(packet.topic);
    const payloadBytes = typeof packet.payload === 'string' ? Buffer.byteLength(packet.payload) : packet.payload.length;
    if (payloadBytes === 0) {
      // MQTT-3.3.1-10: an empty retained payload removes the retained message
      if (previous !== undefined) this.total -= previous;
      this.sizes.delete(packet.topic);
      return undefined;
    }
    const size = Buffer.byteLength(packet.topic) + payloadBytes;
    const count = this.sizes.size + (previous === undefined ? 1 : 0);
    const bytes = this.total - (previous ?? 0) + size;
    if (!exempt && count > this.limits.maxRetainedMessages) {
      return { limit: 'maxRetainedMessages', message: `retained message on ${packet.topic} refused: the broker holds embeddedBroker.maxRetainedMessages (${this.limits.maxRetainedMessages}) already` };
    }
    if (!exempt && bytes > this.limits.maxRetainedBytes) {
      return { limit: 'maxRetainedBytes', message: `retained message on ${packet.topic} (${size} bytes) refused: it would take the retained store over embeddedBroker.maxRetainedBytes (${this.limits.maxRetainedBytes})` };
    }
    this.sizes.set(packet.topic, size);
    this.total = bytes;
    return undefined;
  }
}
