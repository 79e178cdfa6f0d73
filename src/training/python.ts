/**
 * The Python side of `earshot train`: the earshot_train package (training/python, Debian's
 * /usr/bin/python3 with torch and onnx), run as `python3 -m earshot_train` with training/python on
 * PYTHONPATH, in our working directory (relative --out and --features paths mean what they meant).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { ROOT } from '../core/paths.ts';
import { EarshotError } from '../core/errors.ts';

/** The training package; its parent folder goes on PYTHONPATH. */
export const TRAIN_PACKAGE = join(ROOT, 'training', 'python', 'earshot_train');

export type PythonRunner = (args: string[]) => Promise<void>;

/** The environment of a python run: training/python ahead of any PYTHONPATH of ours. */
function pythonEnv(): NodeJS.ProcessEnv {
  return { ...process.env, PYTHONPATH: [dirname(TRAIN_PACKAGE), process.env.PYTHONPATH].filter(Boolean).join(delimiter) };
}

/** Runs earshot_train.functionals (the functional head) as a module from the repository root. */
export function functionalsRunner(python: string): PythonRunner {
  return (args) =>
    new Promise((ok, fail) => {
      const child = spawn(python, ['-m', 'earshot_train.functionals', ...args], { cwd: ROOT, env: pythonEnv(), stdio: ['ignore', 'inherit', 'inherit'] });
      child.on('error', (e) => fail(new EarshotError('E_TOOL', `cannot run ${python}: ${e.message}; install python3-numpy python3-sklearn (apt) or pass --python`, { cause: e })));
      child.on('exit', (code) => (code === 0 ? ok() : fail(new EarshotError('E_TOOL', `earshot_train.functionals ${args.join(' ')} failed (exit ${code}); see its output above`))));
    });
}

/** Runs earshot_train with progress on our stderr; rejects with E_TOOL on a non-zero exit. */
export function pythonRunner(python: string): PythonRunner {
  return (args) =>
    new Promise((ok, fail) => {
      if (!existsSync(TRAIN_PACKAGE)) {
        // the npm and Debian packages hold the runtime only; the training toolkit lives in the repository
        fail(new EarshotError('E_TOOL', `${TRAIN_PACKAGE} is missing: training needs a checkout of the earshot repository (training/python/earshot_train is not installed with the package); run \`earshot train\` there`));
        return;
      }
      const child = spawn(python, ['-m', 'earshot_train', ...args], { env: pythonEnv(), stdio: ['ignore', 'inherit', 'inherit'] });
      child.on('error', (e) => fail(new EarshotError('E_TOOL', `cannot run ${python}: ${e.message}; install python3-torch python3-onnx python3-numpy (apt) or pass --python`, { cause: e })));
      child.on('exit', (code) => (code === 0 ? ok() : fail(new EarshotError('E_TOOL', `earshot_train ${args.join(' ')} failed (exit ${code}); see its output above`))));
    });
}
