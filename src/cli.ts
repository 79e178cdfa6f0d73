/**
 * The `earshot` command line. Each command lives in src/commands/<name>.ts and registers its flags
 * on the program; commands/index.ts lists them. Only the module of the command being run is
 * loaded. This file turns an error into one clear line on stderr and a sysexits(3) status
 * (src/core/errors.ts): 64 for a command line commander refuses, the error code's status for an
 * EarshotError, 70 for anything else (a bug).
 */
import './core/ort-env.ts'; // first: ONNX Runtime's telemetry off before any command loads it
import { Command, CommanderError } from 'commander';
import { EXIT, exitStatusOf, isEarshotError } from './core/errors.ts';
import { printableLines } from './core/printable.ts';
import { watchStdout } from './core/stdout-closed.ts';
import { VERSION } from './core/version.ts';
import { COMMANDS } from './commands/index.ts';

watchStdout(); // a reader that goes away ends the output quietly (src/core/stdout-closed.ts)

const program = new Command('earshot')
  .description('speech emotion recognition at the edge: microphone -> WASM features -> ONNX -> MQTT')
  .version(VERSION)
  .showHelpAfterError()
  .exitOverride(); // inherited by every command added below: errors reach the catch below

// `earshot help NAME` is `earshot NAME --help`: it needs that command's flags too
const name = process.argv[2] === 'help' ? process.argv[3] : process.argv[2];
const wanted = COMMANDS.find((c) => c.name === name);
if (wanted) {
  (await wanted.load())(program);
} else {
  // `earshot`, `earshot --help`, `--version` or an unknown command: the list is all that is needed
  for (const c of COMMANDS) program.command(c.name).description(c.summary);
}

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    // help and version "fail" with status 0; commander has already printed its message
    process.exitCode = e.exitCode === 0 ? 0 : EXIT.usage;
  } else if (isEarshotError(e)) {
    // a message may quote bytes of a file (a chunk id, a name): no raw control characters on the terminal
    process.stderr.write(`earshot: ${printableLines(e.message)}\n`);
    process.exitCode = exitStatusOf(e);
  } else {
    process.stderr.write(`earshot: internal error (a bug; please report it with this trace):\n${(e as Error)?.stack ?? String(e)}\n`);
    process.exitCode = EXIT.software;
  }
}
