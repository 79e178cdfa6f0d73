/**
 * ONNX Runtime's telemetry, off before the native library loads. onnxruntime-node 1.30's
 * libonnxruntime.so (core/platform/posix/telemetry.cc, the 1DS "OneCollector" client) looks up
 * mobile.events.data.microsoft.com on every model load and keeps a device id and an event database
 * under `$XDG_CACHE_HOME` or `~/.cache/Microsoft/DeveloperTools/.onnxruntime/` (deviceid,
 * onnxruntime.db: model file names, run counts and durations, CPU, OS, memory) plus a
 * `/tmp/mat-debug-<pid>.log`. The library reads one switch, the environment variable
 * `ORT_DISABLE_TELEMETRY` (found with `strings` in the binary; neither the JavaScript binding nor
 * the session options offer another), with getenv() when it starts, so it must be in the process
 * environment before `onnxruntime-node` is first imported. Node's `process.env` assignment calls
 * setenv(3), which the native code sees.
 *
 * Every module that imports onnxruntime-node imports this module first (ES modules run their
 * imports in order), so it holds for the CLI, the daemon, the package's entry points and a library
 * user who imports earshot's runtime; bin/earshot.js and systemd/earshot.service set it as well.
 * It is forced, not defaulted: a value of 0 inherited from a shell would turn it back on.
 *
 * Worker threads: a worker's `process.env` is its own copy, and an assignment there never reaches
 * the process environment the native library reads. So in a worker this module only checks that
 * the thread that started it had set the variable (by importing this module, or earshot's runtime,
 * before `new Worker`), and refuses to go on otherwise: a model loaded there would report home.
 * docs/privacy.md; test/e2e/privacy-strace.test.ts proves all of it with strace.
 */
import { isMainThread } from 'node:worker_threads';

if (!isMainThread && process.env.ORT_DISABLE_TELEMETRY !== '1') {
  throw new Error(
    "earshot: ONNX Runtime's telemetry cannot be turned off from inside a worker thread (its environment is a copy); import earshot's runtime, or dist/core/ort-env.js, in the main thread before starting the worker, or start it with ORT_DISABLE_TELEMETRY=1",
  );
}
process.env.ORT_DISABLE_TELEMETRY = '1';

export const ORT_TELEMETRY_DISABLED = true;
