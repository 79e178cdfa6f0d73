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
 * test/privacy-strace.test.ts proves it with strace.
 */
process.env.ORT_DISABLE_TELEMETRY = '1';

export const ORT_TELEMETRY_DISABLED = true;
