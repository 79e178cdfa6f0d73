#!/usr/bin/env node
// earshot runs as compiled JavaScript (`npm run build` writes dist/; an installed package ships it).
// In a checkout, `npm run earshot -- ...` runs the TypeScript sources through tsx instead.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// ONNX Runtime's telemetry off in this process and in the child below, before anything loads it
// (src/core/ort-env.ts says what it sends and why this variable is the switch)
process.env.ORT_DISABLE_TELEMETRY = '1';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write(`earshot: ${cli.pathname} is missing: in a checkout run \`npm run build\` first (or \`npm run earshot -- ARGS\` to run the TypeScript sources); an installed package ships it, so reinstall earshot\n`);
  process.exit(70);
}

// onnxruntime-node 1.30 segfaults in InferenceSession.create when the process's command line is
// longer than about 30 KB (`earshot analyze` with ~520 file names; repro in docs/operations.md,
// "Known upstream problems"). A long argument list is therefore handed to a child process over a pipe (fd 3), so
// the process that opens the model has a short command line; signals and the exit status pass through.
const ARGV_PIPE_LIMIT = 16 * 1024;
const args = process.argv.slice(2);
if (process.env.EARSHOT_ARGV_FD === '3') {
  delete process.env.EARSHOT_ARGV_FD;
  process.argv = [...process.argv.slice(0, 2), ...JSON.parse(readFileSync(3, 'utf8'))];
  await import(cli.href);
} else if (args.reduce((n, a) => n + Buffer.byteLength(a) + 1, 0) > ARGV_PIPE_LIMIT) {
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], {
    stdio: ['inherit', 'inherit', 'inherit', 'pipe'],
    env: { ...process.env, EARSHOT_ARGV_FD: '3' },
  });
  child.stdio[3].end(JSON.stringify(args));
  const forward = (sig) => child.kill(sig);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, forward);
  child.on('exit', (code, signal) => {
    if (signal) {
      for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.off(sig, forward);
      process.kill(process.pid, signal);
    } else process.exit(code ?? 70);
  });
} else {
  await import(cli.href);
}
