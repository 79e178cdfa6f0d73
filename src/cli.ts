/**
 * The `earshot` command line. Each command lives in src/commands/<name>.ts and registers itself
 * on the program; this file only wires them and turns an EarshotError into a clear message and
 * a non-zero exit.
 */
import { Command } from 'commander';
import { EarshotError } from './core/errors.ts';
import { VERSION } from './core/version.ts';
import { registerFeatures } from './commands/features.ts';
import { registerDevices } from './commands/devices.ts';
import { registerAnalyze } from './commands/analyze.ts';
import { registerBench } from './commands/bench.ts';
import { registerEval } from './commands/eval.ts';
import { registerCalibrate } from './commands/calibrate.ts';
import { registerBaseline } from './commands/baseline.ts';
import { registerTrain } from './commands/train.ts';
import { registerRun } from './commands/run.ts';

const program = new Command('earshot')
  .description('speech emotion recognition at the edge: microphone -> WASM features -> ONNX -> MQTT')
  .version(VERSION)
  .showHelpAfterError();

registerFeatures(program);
registerDevices(program);
registerAnalyze(program);
registerBench(program);
registerEval(program);
registerCalibrate(program);
registerBaseline(program);
registerTrain(program);
registerRun(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof EarshotError) {
    process.stderr.write(`earshot: ${e.message}\n`);
    process.exitCode = 2;
  } else {
    throw e;
  }
}
