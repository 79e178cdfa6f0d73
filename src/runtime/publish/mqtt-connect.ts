/**
 * An mqtt.js client for one broker endpoint, built without `mqtt.connect()` for mqtt:// and
 * mqtts://. On its first call, `connect()` loads every transport it knows, the WebSocket one too
 * (the `ws` package and its stream wrappers): about 1.5 MB of private memory in a daemon that talks
 * plain TCP or TLS (issue 32, item 3; measured in docs/experiments/2026-12-07-crowds-and-cost.md).
 * For those two schemes this builds the same client `connect()` would: mqtt.js's own TCP or TLS
 * stream builder (so its TLS checks and MQTTJS_SOCKS_PROXY support stay), the same option handling
 * for the fields the publisher sets, and the same catch-all error listener. ws:// and wss:// go
 * through `connect()`, which loads the WebSocket transport they need.
 */
import { createRequire } from 'node:module';
import type { Duplex } from 'node:stream';
import { connect as mqttConnect, MqttClient, type IClientOptions } from 'mqtt';
import { EarshotError } from '../../core/errors.ts';
import { connectOptionsOf, parseBrokerUrl, type BrokerScheme } from './broker-url.ts';

type StreamBuilder = (client: MqttClient, opts: IClientOptions) => Duplex;

const require = createRequire(import.meta.url);

/** The transport a scheme uses once a client certificate is given (mqtt.js upgrades mqtt to mqtts, ws to wss). */
function schemeWith(opts: IClientOptions, scheme: BrokerScheme): BrokerScheme {
  if (!(opts.cert && opts.key)) return scheme;
  return scheme === 'mqtt' ? 'mqtts' : scheme === 'ws' ? 'wss' : scheme;
}

/** Connects as `mqtt.connect(opts)` does; `opts.protocol` is the URL's scheme (./broker-url.ts). */
export function connectMqtt(opts: IClientOptions & { protocol: BrokerScheme }): MqttClient {
  const scheme = schemeWith(opts, opts.protocol);
  if (scheme === 'ws' || scheme === 'wss') return mqttConnect({ ...opts, protocol: scheme });
  const build = (require(scheme === 'mqtts' ? 'mqtt/lib/connect/tls' : 'mqtt/lib/connect/tcp') as { default: StreamBuilder }).default;
  const options: IClientOptions = { ...opts, protocol: scheme, defaultProtocol: scheme, socksProxy: opts.socksProxy ?? process.env.MQTTJS_SOCKS_PROXY };
  delete options.path; // a path is for WebSockets only
  const client = new MqttClient((c) => build(c, options), options);
  // as connect() does: an error with no listener of the caller's must not end the process
  client.on('error', () => {});
  return client;
}

/**
 * Connects to the broker at `url` (mqtt.url, parsed by ./broker-url.ts, so mqtt.js gets an options
 * object and never the URL string, which it would hand to Node's legacy url.parse); a user name or
 * password in `opts` wins over the URL's.
 */
export function connectMqttUrl(url: string, opts: Omit<IClientOptions, 'protocol'>): MqttClient {
  const r = parseBrokerUrl(url);
  if (!r.ok) throw new EarshotError('E_CONFIG', `mqtt.url: ${r.problem}`);
  const endpoint = connectOptionsOf(r.endpoint);
  return connectMqtt({ ...endpoint, ...opts, username: opts.username ?? endpoint.username, password: opts.password ?? endpoint.password });
}
