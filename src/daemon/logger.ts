/**
 * Structured logs: pino, one JSON object per line on stderr (or one readable line, `log.format`) (stdout is kept for `--stdout`
 * events). Written synchronously, so the last lines before an exit (a config error, the shutdown
 * summary) are never lost; the daemon logs a few lines a minute, so the cost does not matter.
 * Each stage gets a child logger (`{"stage":"capture"}`); pino's methods fit the narrow log types
 * of capture, pipeline and publisher as they are.
 */
import pino, { type Logger } from 'pino';
import { textDestination } from './text-output.ts';

export type { Logger };

export interface LoggerOptions {
  level: string;
  /** default: stderr */
  fd?: number;
  /** `text`: readable lines (text-output.ts); default `json` */
  format?: 'text' | 'json';
}

export function createLogger(opts: LoggerOptions): Logger {
  return pino(
    {
      name: 'earshot',
      level: opts.level,
      timestamp: pino.stdTimeFunctions.isoTime,
      // errors under `err` are serialised with their message, code and stack
      serializers: { err: pino.stdSerializers.err },
    },
    opts.format === 'text' ? textDestination(opts.fd ?? 2) : pino.destination({ fd: opts.fd ?? 2, sync: true }),
  );
}
