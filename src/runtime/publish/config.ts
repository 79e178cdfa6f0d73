/**
 * The `mqtt` section of the daemon config: one zod schema gives the type, the defaults and the
 * validation (every error with its path). The daemon config embeds `publisherConfigSchema`.
 */
import { z } from 'zod';
import { EarshotError } from '../../core/errors.ts';
import { formatIssues } from '../../core/schema.ts';
import { defaultDeviceId } from './installation.ts';
import { parseBrokerUrl } from './broker-url.ts';

/** MQTT topic level safe characters; deviceId is used in topics and Home Assistant ids. */
const topicSafeId = /^[A-Za-z0-9_-]+$/;

export { defaultDeviceId };

/** The on-disk event queue's limits (src/runtime/publish/offline-queue.ts takes them parsed). */
export const queueConfigSchema = z.strictObject({
  /** Most undelivered events kept on disk (and in memory); the oldest are dropped beyond. Default 10000, at most 1000000. */
  maxEntries: z.number().int().min(1).max(1_000_000).default(10_000),
  /** Most bytes of undelivered events kept on disk (and in memory). Default 8 MiB, at most 256 MiB. */
  maxBytes: z.number().int().min(1024).max(256 * 1024 * 1024).default(8 * 1024 * 1024),
  /** `append`: fsync each queued event (default); `none`: let the kernel flush. */
  fsync: z.enum(['append', 'none']).default('append'),
});
export type QueueConfig = z.output<typeof queueConfigSchema>;

export const publisherConfigSchema = z
  .strictObject({
    /** Broker URL, `mqtt://host:port`, `mqtts://host:port`, `ws://host:port/path` or `wss://...` (./broker-url.ts); credentials in it percent-encoded, or better in username/password. Default `mqtt://127.0.0.1:1883`. */
    url: z
      .string()
      .superRefine((url, ctx) => {
        const r = parseBrokerUrl(url);
        if (!r.ok) ctx.addIssue({ code: 'custom', message: r.problem });
      })
      .default('mqtt://127.0.0.1:1883'),
    /** This device's id in topics and Home Assistant (letters, digits, _ and -). Default: host name + 6 hex digits from /etc/machine-id (installation.ts). */
    deviceId: z.string().regex(topicSafeId, 'use only letters, digits, _ and -').default(() => defaultDeviceId()),
    /** Topic prefix for status/emotion/events/metrics. Default `earshot/<deviceId>`. */
    baseTopic: z.string().min(1).refine((t) => !/[#+]/.test(t) && !t.endsWith('/'), 'no wildcards (#, +) and no trailing /').optional(),
    /** Home Assistant discovery prefix. Default `homeassistant`. */
    discoveryPrefix: z.string().min(1).default('homeassistant'),
    /** Publish Home Assistant discovery configs. Default true. */
    discovery: z.boolean().default(true),
    /** Name of the device in Home Assistant. Default `earshot <deviceId>`. */
    deviceName: z.string().min(1).optional(),
    /** MQTT client id. Default `earshot-<deviceId>-<first 8 characters of the installation id>`: one per installation, so two boxes with one device id never take each other's session. */
    clientId: z.string().min(1).optional(),
    /** User name at the broker; wins over one in the URL. Default: the URL's, else none. */
    username: z.string().optional(),
    /** Password at the broker (best from EARSHOT_MQTT_PASSWORD or the config file, never the command line); wins over one in the URL. Default: the URL's, else none. */
    password: z.string().optional(),
    tls: z
      .strictObject({
        /** PEM file of the CA that signed the broker's certificate. */
        ca: z.string().min(1).optional(),
        /** PEM file of this client's certificate (mutual TLS). */
        cert: z.string().min(1).optional(),
        /** PEM file of this client's private key (mutual TLS). */
        key: z.string().min(1).optional(),
        /** Refuse brokers whose certificate does not verify. Default true. */
        rejectUnauthorized: z.boolean().default(true),
      })
      .refine((t) => !t.cert === !t.key, 'cert and key must be given together')
      .optional(),
    /** MQTT keepalive, seconds. Default 30. */
    keepaliveSec: z.number().int().min(0).max(65535).default(30),
    /** MQTT protocol: 4 = 3.1.1 (default, works with Mosquitto and aedes), 5 = MQTT 5. */
    protocolVersion: z.union([z.literal(4), z.literal(5)]).default(4),
    /** First reconnect delay after a lost connection, ms; doubles per failed attempt. Default 1000, at most 3600000 (1 h). */
    reconnectMinMs: z.number().int().min(10).max(3_600_000).default(1000),
    /** Reconnect delay cap, ms. Default 30000, at most 3600000 (1 h). */
    reconnectMaxMs: z.number().int().min(10).max(3_600_000).default(30_000),
    /** Give up one connection attempt after this long, ms. Default 10000, at most 600000 (10 min). */
    connectTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
    /** Events published but not yet acknowledged at once. Default 32. */
    maxInFlight: z.number().int().min(1).max(65535).default(32),
    /** On stop, how long to keep delivering queued events before going offline, ms. Default 3000, at most 600000 (10 min). */
    stopTimeoutMs: z.number().int().min(0).max(600_000).default(3000),
    /** Directory of the on-disk event queue (the service's state directory). Default `/var/lib/earshot`. */
    stateDir: z.string().min(1).default('/var/lib/earshot'),
    queue: queueConfigSchema.prefault({}),
    /** Seconds without a classified utterance after which `<base>/emotion` turns `idle`; 0 = never. Default 30. */
    idleAfterSec: z.number().min(0).max(86_400).default(30),
  })
  .refine((c) => c.reconnectMaxMs >= c.reconnectMinMs, { path: ['reconnectMaxMs'], message: 'must be >= reconnectMinMs' });

export type PublisherConfigInput = z.input<typeof publisherConfigSchema>;
export type PublisherConfig = z.output<typeof publisherConfigSchema>;

/** Validate and fill defaults; throws E_CONFIG listing every problem as `mqtt.<path>: message`. */
export function parsePublisherConfig(input: unknown, where = 'mqtt'): PublisherConfig {
  const r = publisherConfigSchema.safeParse(input ?? {});
  if (r.success) return r.data;
  const lines = formatIssues(r.error.issues, where);
  throw new EarshotError('E_CONFIG', `invalid MQTT configuration:\n  ${lines.join('\n  ')}`);
}

export function baseTopicOf(c: PublisherConfig): string {
  return c.baseTopic ?? `earshot/${c.deviceId}`;
}
