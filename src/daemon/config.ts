/**
 * The configuration of `earshot run`: ONE zod schema (type, defaults, validation) fed by four
 * layers, highest first: command-line flags > `EARSHOT_*` environment variables > the config file
 * (YAML or JSON) > defaults. Every layer is a plain object merged before validation, so a value
 * means the same wherever it comes from, and a bad one is reported once, with its path and where
 * it came from (`mqtt.url: must look like mqtt://... (from --broker)`). Strings from flags and the
 * environment are coerced by the type of the schema field they land on, never cast by hand.
 *
 * Environment names are derived from the schema: `EARSHOT_` + the path in UPPER_SNAKE
 * (`mqtt.deviceId` -> `EARSHOT_MQTT_DEVICE_ID`), plus the short aliases in ENV_ALIASES.
 * `earshot run --print-env` lists them all.
 */
/* eslint-disable max-lines -- the daemon's schema and the merging of its four layers with their error reporting; the stages' sections already live in their own schemas */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { isMap, isScalar, isSeq, parseDocument } from 'yaml';
import { z } from 'zod';
import { parseSource } from '../runtime/capture/parse-source.ts';
import { captureConfigSchema } from '../runtime/capture/config.ts';
import { EarshotError } from '../core/errors.ts';
import { DEFAULT_MODEL } from '../runtime/model/metadata.ts';
import { didYouMean, phrase } from '../core/suggest.ts';
import { pipelineConfigSchema } from '../runtime/pipeline/config.ts';
import { publisherConfigSchema } from '../runtime/publish/config.ts';
import { LISTENING_AT_START } from './listening.ts';
import { brokerLimitsShape } from './broker/broker-limits.ts';

import { DEMO_SOURCE } from './config-constants.ts';

/** `--source demo`: the bundled clip, replayed once at real time (see daemon.ts); defined in ./config-constants.ts so the daemon needs no schema. */
export { DEMO_SOURCE } from './config-constants.ts';
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const LOG_FORMATS = ['auto', 'text', 'json'] as const;
/** The default of privacy.notice: what the retained `<base>/notice` says, for signage. */
export const DEFAULT_NOTICE =
  'Emotion recognition in use: this device estimates emotions from the tone of voice (not the words). Audio is processed on the device and never stored or sent; only labels and scores leave it. It can be switched off.';

const sourceSpec = z.string().superRefine((spec, ctx) => {
  if (spec === DEMO_SOURCE) return;
  try {
    parseSource(spec);
  } catch (e) {
    // one line: the origin `(from --source)` follows it, and the forms are listed by --help
    const why = (e as Error).message.replace(/^--source "[^"]*": /, '').replace(/\. Accepted forms:[\s\S]*$/, '');
    ctx.addIssue({ code: 'custom', message: `${why}; use file:PATH, portaudio[:DEVICE][@RATE], arecord[:DEVICE][@RATE], stdin:s16le:RATE, stdin:f32le:RATE or demo` });
  }
});

const port = z.number().int().min(0).max(65535);

export const daemonConfigSchema = z.strictObject({
  /** Model name in models/ or path to NAME.json. Default `earshot-crnn`. */
  model: z.string().min(1).default(DEFAULT_MODEL),
  /** ONNX Runtime intra-op threads. Default 1 (one core stays free for capture and MQTT). */
  modelThreads: z.number().int().min(1).max(64).default(1),
  /**
   * The model's test-time augmentation (metadata `tta`: each utterance classified once per variant,
   * probabilities averaged). Default true; false runs the model once per utterance, for less CPU
   * at a lower accuracy (MODELS.md gives both figures).
   */
  modelTta: z.boolean().default(true),
  /**
   * The frontend's arithmetic, "f32" or "q15" (fixed point: int16 samples, Q15 FFT), whatever the
   * model was trained with. Default: the model's own (metadata `frontend.arithmetic`). README, "Q15".
   */
  modelArithmetic: z.enum(['f32', 'q15']).optional(),
  capture: z
    .strictObject({
      /** Where audio comes from: file:PATH, portaudio[:DEVICE][@RATE], arecord[:DEVICE][@RATE], stdin:s16le:RATE, or `demo`. Default `portaudio` (the default input; arecord if naudiodon cannot load). */
      source: sourceSpec.default('portaudio'),
      // sampleRate, realtime, loop, chunkMs, timeouts, stopGraceMs, restart backoff: the capture stage's own schema
      ...captureConfigSchema.shape,
    })
    .prefault({}),
  pipeline: pipelineConfigSchema.prefault({}),
  mqtt: publisherConfigSchema.prefault({}),
  embeddedBroker: z
    .strictObject({
      /** Run an in-process broker (aedes) and publish to it. Default: on exactly when mqtt.url is not set anywhere. */
      enabled: z.boolean().optional(),
      /** Loopback address it listens on. Default 127.0.0.1. */
      host: z.string().min(1).default('127.0.0.1'),
      /** Port; if taken, a free one is used and logged. Default 1883. */
      port: port.default(1883),
      /** Port of MQTT over WebSockets (browsers, Node-RED) on the same host; if taken, a free one is used and logged; 0 turns it off. Default 9001. */
      wsPort: port.default(9001),
      /** User name every client but the daemon must log in with; required (with password) for a non-loopback host. Default: none. */
      username: z.string().min(1).optional(),
      /** Password for embeddedBroker.username. Default: none. */
      password: z.string().min(1).optional(),
      // maxPacketBytes, maxRetainedMessages, maxRetainedBytes, maxConnections, maxInflightInbound (documented there)
      ...brokerLimitsShape,
    })
    .prefault({}),
  http: z
    .strictObject({
      /** Address of /healthz, /metrics and the dashboard. Default 127.0.0.1 (loopback only); any other address needs dashboard.token. */
      host: z.string().min(1).default('127.0.0.1'),
      /** Port of /healthz and /metrics; 0 turns the HTTP server off. Default 9464 (Prometheus exporter range). */
      port: port.default(9464),
      /** Further names the HTTP server answers to in the Host header (e.g. `earshot.lan`; a list, or comma-separated in --set/env); every other Host gets 403 (DNS rebinding). Default none: the bind address, localhost, 127.0.0.1, [::1] (and the machine's addresses and host name on a wildcard bind). */
      allowedHosts: z.array(z.string().min(1).max(253).regex(/^[A-Za-z0-9.:[\]_-]+$/, 'must be a host name or address, without a port')).max(64).default([]),
    })
    .prefault({}),
  dashboard: z
    .strictObject({
      /** Serve the live dashboard at / on the HTTP server (src/daemon/dashboard/). Default true. */
      enabled: z.boolean().default(true),
      /** Access token of the dashboard (at least 16 characters, e.g. `openssl rand -hex 16`); required when http.host is not loopback, else every dashboard request gets 401. Default none. */
      token: z.string().min(16, 'must be at least 16 characters (e.g. `openssl rand -hex 16`)').optional(),
      /** Seconds without an utterance before the dashboard shows `idle`. Default 30. */
      idleAfterSec: z.number().min(1).max(86_400).default(30),
    })
    .prefault({}),
  log: z
    .strictObject({
      /** pino level of the JSON logs on stderr. Default `info`. */
      level: z.enum(LOG_LEVELS).default('info'),
      /** `text`: one readable line per log and --stdout event; `json`: one JSON object per line; `auto` (default): text on a terminal, JSON when piped. */
      format: z.enum(LOG_FORMATS).default('auto'),
    })
    .prefault({}),
  metrics: z
    .strictObject({
      /** Seconds between MQTT `metrics` publishes; 0 turns them off. Default 60, at most 86400 (1 day). */
      intervalSec: z.number().min(0).max(86_400).default(60),
    })
    .prefault({}),
  privacy: z
    .strictObject({
      /** Listening at start: `last` (default: as it was when the daemon stopped, on the first time), `on` or `off`. */
      listeningAtStart: z.enum(LISTENING_AT_START).default('last'),
      /** Retained text on `<base>/notice` for signage (EU AI Act Art. 50(3) asks to inform people); '' clears it. Default: a short plain notice. */
      notice: z.string().max(2000).default(DEFAULT_NOTICE),
      /** Accept `POST /listening` from other hosts when http.host is not loopback. Default false (loopback peers only). */
      remoteListeningControl: z.boolean().default(false),
    })
    .prefault({}),
  /** Also print every event as one JSON line on stdout (logs stay on stderr). Default false. */
  stdout: z.boolean().default(false),
  /** Hard deadline for a shutdown (SIGTERM/SIGINT or end of input), ms; must exceed mqtt.stopTimeoutMs. Default 6000, at most 900000 (15 min). */
  shutdownTimeoutMs: z.number().int().min(500).max(900_000).default(6000),
});

export type DaemonConfigInput = z.input<typeof daemonConfigSchema>;
type ParsedConfig = z.output<typeof daemonConfigSchema>;
/** The validated config; `embeddedBroker.enabled` is decided (auto resolved). */
export type DaemonConfig = Omit<ParsedConfig, 'embeddedBroker'> & { embeddedBroker: ParsedConfig['embeddedBroker'] & { enabled: boolean } };

// ---------- the schema as a tree of leaves (env names, coercion, cross-field checks) ----------

type AnySchema = z.ZodType & { def: { type: string; innerType?: AnySchema; out?: AnySchema; options?: AnySchema[]; values?: unknown[] }; shape?: Record<string, AnySchema> };

/** Strips default/prefault/optional/nullable wrappers. */
function unwrap(s: AnySchema): AnySchema {
  let cur = s;
  for (;;) {
    const t = cur.def.type;
    if ((t === 'default' || t === 'prefault' || t === 'optional' || t === 'nullable' || t === 'readonly') && cur.def.innerType) cur = cur.def.innerType;
    else if (t === 'pipe' && cur.def.out) cur = cur.def.out;
    else return cur;
  }
}

export interface ConfigLeaf {
  path: string[];
  /** the field's schema with its wrappers (default included) */
  schema: AnySchema;
  /** `number`, `boolean`, `string`, `enum`, `union`... of the unwrapped schema */
  kind: string;
  env: string;
}

const upperSnake = (s: string) => s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();

function collectLeaves(s: AnySchema, path: string[], out: ConfigLeaf[]): ConfigLeaf[] {
  const inner = unwrap(s);
  if (inner.def.type === 'object' && inner.shape) {
    for (const [k, child] of Object.entries(inner.shape)) collectLeaves(child, [...path, k], out);
  } else {
    out.push({ path, schema: s, kind: inner.def.type, env: `EARSHOT_${path.map(upperSnake).join('_')}` });
  }
  return out;
}

export const CONFIG_LEAVES: readonly ConfigLeaf[] = collectLeaves(daemonConfigSchema as unknown as AnySchema, [], []);
const leafByPath = new Map(CONFIG_LEAVES.map((l) => [l.path.join('.'), l]));
/** `mqtt`, `pipeline.vad`, ...: an empty section in a file is fine */
const SECTIONS = new Set(CONFIG_LEAVES.flatMap((l) => l.path.slice(0, -1).map((_, i) => l.path.slice(0, i + 1).join('.'))));

/** Short environment names for the settings people set most. */
export const ENV_ALIASES: Readonly<Record<string, string>> = {
  EARSHOT_SOURCE: 'capture.source',
  EARSHOT_DEVICE_ID: 'mqtt.deviceId',
  EARSHOT_STATE_DIR: 'mqtt.stateDir',
  EARSHOT_BROKER: 'mqtt.url',
};
/** Not a setting: names the config file (like --config). */
export const ENV_CONFIG_FILE = 'EARSHOT_CONFIG';

const envToPath = new Map<string, string>([...CONFIG_LEAVES.map((l) => [l.env, l.path.join('.')] as const), ...Object.entries(ENV_ALIASES)]);
if (envToPath.size !== CONFIG_LEAVES.length + Object.keys(ENV_ALIASES).length) throw new Error('daemon config: two settings map to one EARSHOT_* name');
/** every EARSHOT_* name, for "did you mean" */
const ENV_NAMES = [...envToPath.keys(), ENV_CONFIG_FILE];

/** Every environment variable `earshot run` reads, with the setting it feeds. */
export function environmentNames(): { name: string; path: string }[] {
  return [{ name: ENV_CONFIG_FILE, path: '(config file)' }, ...[...envToPath].map(([name, path]) => ({ name, path }))];
}

/** Text from a flag or variable, typed by the field it sets; left as text when it does not fit (zod then says why). */
function coerce(leaf: ConfigLeaf, text: string): unknown {
  const inner = unwrap(leaf.schema);
  const t = text.trim();
  if (leaf.kind === 'number' && /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(t)) return Number(t);
  if (leaf.kind === 'boolean') {
    if (/^(true|1|yes|on)$/i.test(t)) return true;
    if (/^(false|0|no|off)$/i.test(t)) return false;
  }
  if (leaf.kind === 'union' && inner.def.options?.every((o) => o.def.type === 'literal' && typeof o.def.values?.[0] === 'number') && /^\d+$/.test(t)) return Number(t);
  // a list from --set or the environment: comma-separated
  if (leaf.kind === 'array') return t ? t.split(',').map((s) => s.trim()).filter(Boolean) : [];
  return text;
}

// ---------- layers ----------

type Plain = Record<string, unknown>;
const isPlain = (v: unknown): v is Plain => typeof v === 'object' && v !== null && !Array.isArray(v);

/** One source of settings: a partial config and, for error messages, where each value came from. */
export interface ConfigLayer {
  values: Plain;
  /** dotted path -> `--broker`, `EARSHOT_MQTT_URL`, `config.yaml` */
  origins: Map<string, string>;
}

function setPath(obj: Plain, path: string[], value: unknown): void {
  let cur = obj;
  for (const k of path.slice(0, -1)) {
    if (!isPlain(own(cur, k))) define(cur, k, {});
    cur = cur[k] as Plain;
  }
  define(cur, path[path.length - 1], value);
}

/**
 * `__proto__` (or `constructor`) as a key must stay a key: assigned with `=` it would replace the
 * object's prototype and its settings would pass as real ones, unseen by the unknown-key check.
 * Defined as own properties, such keys are reported as unknown settings like any other.
 */
const own = (o: Plain, k: string): unknown => (Object.hasOwn(o, k) ? o[k] : undefined);
function define(o: Plain, k: string, value: unknown): void {
  Object.defineProperty(o, k, { value, enumerable: true, writable: true, configurable: true });
}

function getPath(obj: unknown, path: string[]): unknown {
  let cur = obj;
  for (const k of path) {
    if (!isPlain(cur)) return undefined;
    cur = cur[k];
  }
  return cur;
}

/** A shallow copy that keeps a `__proto__` key as a key (spread syntax would too; this says so). */
function copy(o: Plain): Plain {
  const out: Plain = {};
  for (const [k, v] of Object.entries(o)) define(out, k, v);
  return out;
}

function mergeInto(dst: Plain, src: Plain): Plain {
  for (const [k, v] of Object.entries(src)) {
    if (v === undefined) continue;
    const cur = own(dst, k);
    define(dst, k, isPlain(v) && isPlain(cur) ? mergeInto(copy(cur), v) : isPlain(v) ? mergeInto({}, v) : v);
  }
  return dst;
}

function leafPaths(obj: Plain, prefix: string[] = []): string[][] {
  return Object.entries(obj).flatMap(([k, v]) => (isPlain(v) && Object.keys(v).length > 0 ? leafPaths(v, [...prefix, k]) : [[...prefix, k]]));
}

/**
 * Defaults that depend on the machine: the state directory is systemd's $STATE_DIRECTORY when run
 * as the service, /var/lib/earshot for root, else ~/.local/state/earshot.
 */
export function defaultsLayer(env: NodeJS.ProcessEnv, uid: number = process.getuid?.() ?? 0): ConfigLayer {
  const stateDir = env.STATE_DIRECTORY?.split(':')[0] || (uid === 0 ? '/var/lib/earshot' : join(env.XDG_STATE_HOME || join(env.HOME || homedir(), '.local/state'), 'earshot'));
  return { values: { mqtt: { stateDir } }, origins: new Map([['mqtt.stateDir', env.STATE_DIRECTORY ? '$STATE_DIRECTORY' : 'default']]) };
}

/**
 * The largest config file read, bytes: every setting with a comment fits in a few kB, and a file
 * far over it is a mistake or an attack (a 50 MB value took 30 s and 2 GB to parse; 50 MB of
 * comments 331 MB). Refused before it is parsed, by its size when it is a regular file.
 */
export const MAX_CONFIG_BYTES = 1024 * 1024;
/** Unknown settings named in a config error; the rest are counted. */
const MAX_UNKNOWN_REPORTED = 20;

const tooBig = (path: string, size: string) =>
  new EarshotError('E_CONFIG', `the config file ${path} is ${size}, over the ${MAX_CONFIG_BYTES} bytes (1 MiB) a config file may have; check --config / ${ENV_CONFIG_FILE} names the right file`);

/** Reads at most MAX_CONFIG_BYTES + 1 bytes: a regular file over the cap is refused by its size, anything else (a pipe) once it exceeds it. */
function readConfigFile(path: string): string {
  const fd = openSync(path, 'r');
  try {
    const st = fstatSync(fd);
    if (st.isFile() && st.size > MAX_CONFIG_BYTES) throw tooBig(path, `${st.size} bytes`);
    const buf = Buffer.alloc(MAX_CONFIG_BYTES + 1);
    let n = 0;
    for (let got = 1; got > 0 && n < buf.length; n += got) got = readSync(fd, buf, n, buf.length - n, null);
    if (n > MAX_CONFIG_BYTES) throw tooBig(path, 'larger');
    return buf.toString('utf8', 0, n);
  } finally {
    closeSync(fd);
  }
}

/** The config file: YAML or JSON (YAML is a superset), a mapping at the top, at most MAX_CONFIG_BYTES. */
export function fileLayer(path: string, read: (p: string) => string = readConfigFile): ConfigLayer {
  let text: string;
  try {
    text = read(path);
  } catch (e) {
    if (e instanceof EarshotError) throw e;
    throw new EarshotError('E_CONFIG', `cannot read the config file ${path}: ${(e as Error).message}; check --config / ${ENV_CONFIG_FILE}`, { cause: e });
  }
  if (text.length > MAX_CONFIG_BYTES) throw tooBig(path, `${Buffer.byteLength(text)} bytes`);
  let values: unknown;
  try {
    // yaml's own duplicate-key check compares each key with every earlier one (20,000 keys took
    // minutes): it is off, and duplicateKey() does the same check with a Set
    const doc = parseDocument(text, { uniqueKeys: false });
    if (doc.errors.length > 0) throw doc.errors[0];
    const dup = duplicateKey(doc.contents);
    if (dup !== undefined) throw new Error(`Map keys must be unique: "${dup}" appears twice`);
    values = doc.toJS();
  } catch (e) {
    throw new EarshotError('E_CONFIG', `${path} is not valid YAML or JSON: ${(e as Error).message}`, { cause: e });
  }
  if (values === null || values === undefined) values = {};
  if (!isPlain(values)) throw new EarshotError('E_CONFIG', `${path}: the top level must be a mapping of sections (capture:, mqtt:, ...), not ${Array.isArray(values) ? 'a list' : typeof values}`);
  return { values, origins: new Map(leafPaths(values).map((p) => [p.join('.'), path])) };
}

/** The first key that appears twice in one mapping, anywhere in the document. */
function duplicateKey(node: unknown): string | undefined {
  if (isMap(node)) {
    const keys = new Set<string>();
    for (const item of node.items) {
      const key = isScalar(item.key) ? String(item.key.value) : String(item.key);
      if (keys.has(key)) return key;
      keys.add(key);
      const inner = duplicateKey(item.value);
      if (inner !== undefined) return inner;
    }
  } else if (isSeq(node)) {
    for (const item of node.items) {
      const inner = duplicateKey(item);
      if (inner !== undefined) return inner;
    }
  }
  return undefined;
}

/** EARSHOT_* variables; an unknown EARSHOT_ name is reported (a typo would otherwise be silently ignored). */
export function envLayer(env: NodeJS.ProcessEnv): { layer: ConfigLayer; unknown: string[] } {
  const layer: ConfigLayer = { values: {}, origins: new Map() };
  const unknown: string[] = [];
  for (const [name, text] of Object.entries(env)) {
    if (!name.startsWith('EARSHOT_') || name === ENV_CONFIG_FILE || text === undefined) continue;
    const path = envToPath.get(name);
    if (!path) {
      unknown.push(name);
      continue;
    }
    setPath(layer.values, path.split('.'), coerce(leafByPath.get(path)!, text));
    layer.origins.set(path, name);
  }
  return { layer, unknown };
}

/** `earshot run` flags that set a config field, by commander's option key. */
export const FLAG_PATHS = {
  source: { flag: '--source', path: 'capture.source' },
  broker: { flag: '--broker', path: 'mqtt.url' },
  deviceId: { flag: '--device-id', path: 'mqtt.deviceId' },
  model: { flag: '--model', path: 'model' },
  stdout: { flag: '--stdout', path: 'stdout' },
  stateDir: { flag: '--state-dir', path: 'mqtt.stateDir' },
  httpPort: { flag: '--http-port', path: 'http.port' },
  logLevel: { flag: '--log-level', path: 'log.level' },
  logFormat: { flag: '--log-format', path: 'log.format' },
} as const;

export type FlagValues = Partial<Record<keyof typeof FLAG_PATHS, string | boolean>> & {
  /** `--set path=value`, repeatable */
  set?: string[];
  /** `--demo`: the bundled clip once, events on stdout, no HTTP server unless --http-port */
  demo?: boolean;
};

export function flagLayer(flags: FlagValues): { layer: ConfigLayer; errors: string[] } {
  const layer: ConfigLayer = { values: {}, origins: new Map() };
  const errors: string[] = [];
  const put = (path: string, value: string | boolean, origin: string) => {
    const leaf = leafByPath.get(path);
    if (!leaf) {
      errors.push(`${origin}: there is no setting "${path}"; \`earshot run --print-config\` shows every setting`);
      return;
    }
    setPath(layer.values, leaf.path, typeof value === 'boolean' ? value : coerce(leaf, value));
    layer.origins.set(path, origin);
  };
  if (flags.demo) {
    put('capture.source', DEMO_SOURCE, '--demo');
    put('stdout', true, '--demo');
    put('http.port', '0', '--demo');
  }
  for (const item of flags.set ?? []) {
    const eq = item.indexOf('=');
    if (eq <= 0) errors.push(`--set ${item}: write --set path=value, e.g. --set pipeline.mode=window`);
    else put(item.slice(0, eq).trim(), item.slice(eq + 1), `--set ${item.slice(0, eq).trim()}`);
  }
  for (const [key, { flag, path }] of Object.entries(FLAG_PATHS)) {
    const v = flags[key as keyof typeof FLAG_PATHS];
    if (v !== undefined) put(path, v, flag);
  }
  return { layer, errors };
}

// ---------- validation ----------

function originOf(path: string, layers: ConfigLayer[], indexes: Map<string, string>[]): string | undefined {
  // by lookups, not a scan of every origin per error: 20,000 unknown keys used to take minutes
  const ancestors = path.split('.').map((_, i, parts) => parts.slice(0, i).join('.')).slice(1);
  for (let i = layers.length - 1; i >= 0; i--) {
    const origins = layers[i].origins;
    const atOrBelow = indexes[i].get(path); // the path itself, or a value set under it
    if (atOrBelow !== undefined) return atOrBelow;
    for (const a of ancestors) {
      const o = origins.get(a); // a value set above it (a whole section from one place)
      if (o !== undefined) return o;
    }
  }
  return undefined;
}

/** Every path of `origins` and each of its prefixes, mapped to the origin of the first path under it. */
function prefixIndex(origins: ReadonlyMap<string, string>): Map<string, string> {
  const index = new Map<string, string>();
  for (const [p, origin] of origins) {
    for (let dot = p.indexOf('.'); dot >= 0; dot = p.indexOf('.', dot + 1)) if (!index.has(p.slice(0, dot))) index.set(p.slice(0, dot), origin);
    if (!index.has(p)) index.set(p, origin);
  }
  return index;
}

/** A field of the merged input, if it validates on its own (for cross-field checks that run even when other fields failed). */
function validField<T>(merged: Plain, path: string): T | undefined {
  const leaf = leafByPath.get(path)!;
  const r = leaf.schema.safeParse(getPath(merged, leaf.path));
  return r.success ? (r.data as T) : undefined;
}

/** Cross-field rules, checked on every field that is valid by itself. */
function crossFieldIssues(merged: Plain): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = [];
  const stop = validField<number>(merged, 'mqtt.stopTimeoutMs');
  const deadline = validField<number>(merged, 'shutdownTimeoutMs');
  if (stop !== undefined && deadline !== undefined && deadline < stop + 1500) {
    out.push({ path: 'shutdownTimeoutMs', message: `must be at least mqtt.stopTimeoutMs + 1500 (${stop + 1500}) so queued events get their chance before the hard deadline` });
  }
  if (getPath(merged, ['embeddedBroker', 'enabled']) === true && getPath(merged, ['mqtt', 'url']) !== undefined) {
    out.push({ path: 'embeddedBroker.enabled', message: 'is true but mqtt.url is also set: the daemon publishes either to its embedded broker or to mqtt.url; unset one' });
  }
  const min = validField<number>(merged, 'capture.restartBackoffMs');
  const max = validField<number>(merged, 'capture.restartBackoffMaxMs');
  if (min !== undefined && max !== undefined && max < min) out.push({ path: 'capture.restartBackoffMaxMs', message: 'must be >= capture.restartBackoffMs' });
  return out;
}

const UNKNOWN_SETTING = 'unknown setting (check the spelling; `earshot run --print-config` shows every setting)';

const KNOWN_PATHS = [...leafByPath.keys(), ...SECTIONS];

/**
 * The unknown-setting message, with the nearest known setting by edit distance (mqtt.urll -> mqtt.url)
 * or, for a key put in the wrong section, the settings it is the last key of (source -> capture.source).
 */
function unknownSetting(path: string): string {
  const key = path.slice(path.lastIndexOf('.') + 1);
  const hint = didYouMean(path, KNOWN_PATHS) || phrase(KNOWN_PATHS.filter((p) => p !== path && (p === key || p.endsWith(`.${key}`))).sort());
  return hint ? `unknown setting (${hint} \`earshot run --print-config\` shows every setting)` : UNKNOWN_SETTING;
}
/** Merges the layers (lowest first), validates, and resolves the embedded broker; throws E_CONFIG listing every problem. */
export function parseDaemonConfig(layers: ConfigLayer[], extraErrors: string[] = []): DaemonConfig {
  const merged = layers.reduce<Plain>((acc, l) => mergeInto(acc, l.values), {});
  const r = daemonConfigSchema.safeParse(merged);
  const lines = [...extraErrors];
  const seen = new Set<string>();
  const indexes = layers.map((l) => prefixIndex(l.origins));
  // 20,000 misspelt keys must not make a 20,000-line error: the first MAX_UNKNOWN_REPORTED, then a count
  const unknown = new Set<string>();
  const addUnknown = (path: string) => {
    if (unknown.size < MAX_UNKNOWN_REPORTED && !unknown.has(path)) add(path, unknownSetting(path));
    unknown.add(path);
  };
  const add = (path: string, message: string) => {
    const origin = originOf(path, layers, indexes);
    // the origin goes on the first line: some messages (capture.source) carry a list after it
    const [first, ...rest] = message.split('\n');
    const line = [`${path || '(root)'}: ${first}${origin && origin !== 'default' ? ` (from ${origin})` : ''}`, ...rest].join('\n');
    if (!seen.has(line)) lines.push(line);
    seen.add(line);
  };
  if (!r.success) {
    // int() adds its own "<= 2^53-1" issue next to the field's real maximum: report only the latter
    const bounded = new Set(r.error.issues.filter((i) => i.code === 'too_big' && Number(i.maximum) < Number.MAX_SAFE_INTEGER).map((i) => i.path.join('.')));
    for (const i of r.error.issues) {
      const base = i.path.map(String).join('.');
      if (i.code === 'too_big' && Number(i.maximum) >= Number.MAX_SAFE_INTEGER && bounded.has(base)) continue;
      // strict objects report unknown keys on the parent: name each one
      if (i.code === 'unrecognized_keys') for (const k of i.keys) addUnknown(base ? `${base}.${k}` : k);
      else add(base, i.message);
    }
  }
  // non-strict nested schemas (pipeline.*) would drop a misspelt key silently: check every key against the schema's leaves
  for (const p of leafPaths(merged)) {
    const path = p.join('.');
    if (!leafByPath.has(path) && !SECTIONS.has(path) && !p.some((_, i) => leafByPath.has(p.slice(0, i + 1).join('.')))) addUnknown(path);
  }
  for (const x of crossFieldIssues(merged)) add(x.path, x.message);
  const more = unknown.size - Math.min(unknown.size, MAX_UNKNOWN_REPORTED);
  if (more > 0) lines.push(`... and ${more} more unknown settings (${unknown.size} in all; the first ${MAX_UNKNOWN_REPORTED} are listed)`);
  if (lines.length > 0 || !r.success) {
    const count = lines.length - (more > 0 ? 1 : 0) + more;
    throw new EarshotError('E_CONFIG', `invalid configuration (${count} error${count === 1 ? '' : 's'}):\n  ${lines.join('\n  ')}`);
  }
  const c = r.data;
  const enabled = c.embeddedBroker.enabled ?? getPath(merged, ['mqtt', 'url']) === undefined;
  return { ...c, embeddedBroker: { ...c.embeddedBroker, enabled } };
}

export interface LoadConfigInput {
  flags: FlagValues & { config?: string };
  env: NodeJS.ProcessEnv;
  readFile?: (path: string) => string;
  uid?: number;
}

/** flags > env > file > defaults, validated by the one schema. */
export function loadDaemonConfig(input: LoadConfigInput): DaemonConfig {
  const env = envLayer(input.env);
  const flags = flagLayer(input.flags);
  const file = input.flags.config ?? input.env[ENV_CONFIG_FILE];
  const layers = [defaultsLayer(input.env, input.uid)];
  if (file) layers.push(fileLayer(file, input.readFile));
  layers.push(env.layer, flags.layer);
  const errors = [
    ...env.unknown.map((n) => `${n}: unknown variable; ${didYouMean(n, ENV_NAMES) || 'check the spelling;'} \`earshot run --print-env\` lists the EARSHOT_* names`),
    ...flags.errors,
  ];
  return parseDaemonConfig(layers, errors);
}
