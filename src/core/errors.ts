/**
 * Every failure a user can act on carries a stable code and a message that says what to do. Each
 * code maps to one exit status from sysexits(3), so a supervisor can tell "fix me" from "restart
 * me": systemd/earshot.service lists the first four in RestartPreventExitStatus=.
 *
 *   64 EX_USAGE        a command line that cannot work (unknown flag, bad flag value)
 *   65 EX_DATAERR      input data that cannot be used (not audio, a corpus file misnamed, an
 *                      unsupported sample rate, an event too large for the queue)
 *   66 EX_NOINPUT      an input that is missing or unreadable: an audio file, the model
 *   78 EX_CONFIG       a configuration value or file is invalid, or names something unusable
 *   69 EX_UNAVAILABLE  something the run needs is not there now: the capture device, the broker,
 *                      a port, a program (python3, arecord); a restart may find it
 *   70 EX_SOFTWARE     a bug or a broken installation (WASM kernels missing, an internal check)
 *   75 EX_TEMPFAIL     another daemon holds the state directory; retried by systemd every RestartSec
 *                      (5 s), so the service comes back once that one stops (src/daemon/state-lock.ts)
 */
export type ErrorCode =
  | 'E_USAGE' // a command-line flag or argument is invalid
  | 'E_CONFIG' // a configuration value is invalid (frontend, pipeline, daemon, MQTT)
  | 'E_AUDIO_FORMAT' // a file is not audio, is truncated, empty or in an unsupported encoding
  | 'E_AUDIO_IO' // an audio file or folder cannot be opened or read
  | 'E_CORPUS' // a corpus folder holds files whose names do not fit the corpus's naming scheme
  | 'E_SAMPLE_RATE' // a sample rate the resampler cannot convert
  | 'E_EVENT_TOO_LARGE' // one event is larger than the whole offline queue may hold
  | 'E_MODEL' // a model is missing, corrupt or needs a frontend the runtime cannot build
  | 'E_CAPTURE' // a capture source failed, timed out or flat-lined
  | 'E_BROKER' // the MQTT broker is unreachable or refused us
  | 'E_PORT_IN_USE' // a TCP port we must listen on is taken or not on this machine
  | 'E_STATE_LOCKED' // another daemon holds the state directory
  | 'E_DEVICE_ID_TAKEN' // a live daemon of another installation answers under this device id
  | 'E_TOOL' // an external program (python3, arecord) is missing or failed
  | 'E_WASM' // the WASM kernels are missing (run `npm run build`) or failed
  | 'E_INTERNAL'; // an internal consistency check failed: a bug, please report it

/** sysexits(3) statuses. */
export const EXIT = { usage: 64, dataErr: 65, noInput: 66, unavailable: 69, software: 70, tempFail: 75, config: 78 } as const;

/** The exit status of each code. */
export const EXIT_STATUS: Record<ErrorCode, number> = {
  E_USAGE: EXIT.usage,
  E_CONFIG: EXIT.config,
  E_AUDIO_FORMAT: EXIT.dataErr,
  E_AUDIO_IO: EXIT.noInput,
  E_CORPUS: EXIT.dataErr,
  E_SAMPLE_RATE: EXIT.dataErr,
  E_EVENT_TOO_LARGE: EXIT.dataErr,
  E_MODEL: EXIT.noInput,
  E_CAPTURE: EXIT.unavailable,
  E_BROKER: EXIT.unavailable,
  E_PORT_IN_USE: EXIT.unavailable,
  E_STATE_LOCKED: EXIT.tempFail,
  E_DEVICE_ID_TAKEN: EXIT.unavailable,
  E_TOOL: EXIT.unavailable,
  E_WASM: EXIT.software,
  E_INTERNAL: EXIT.software,
};

export class EarshotError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EarshotError';
    this.code = code;
  }
}

export function isEarshotError(e: unknown): e is EarshotError {
  return e instanceof EarshotError;
}

/** The exit status for an error: its code's, or 70 for anything that is not an EarshotError (a bug). */
export function exitStatusOf(e: unknown): number {
  return isEarshotError(e) ? EXIT_STATUS[e.code] : EXIT.software;
}
