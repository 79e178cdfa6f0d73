/** Every failure a user can act on carries a stable code and a message that says what to do. */
export type ErrorCode =
  | 'E_CONFIG' // a configuration value is invalid (frontend, daemon, CLI flags)
  | 'E_AUDIO_FORMAT' // a file is not audio, is truncated, empty or in an unsupported encoding
  | 'E_AUDIO_IO' // a file or device cannot be opened or read
  | 'E_CORPUS' // a corpus folder holds files whose names do not fit the corpus's naming scheme
  | 'E_SAMPLE_RATE' // a sample rate the resampler cannot convert
  | 'E_MODEL' // a model is missing, corrupt or needs a frontend the runtime cannot build
  | 'E_CAPTURE' // a capture source failed, timed out or flat-lined
  | 'E_BROKER' // the MQTT broker is unreachable or refused us
  | 'E_WASM'; // the WASM kernels are missing (run `npm run build:wasm`) or failed

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
