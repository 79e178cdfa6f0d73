/**
 * Loads the compiled AssemblyScript kernels. Each module is compiled once per process and
 * instantiated once per user (a Frontend owns its instance, so its tables and buffers are its own).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EarshotError } from '../../core/errors.ts';
import { WASM_DIR } from '../../core/paths.ts';


const compiled = new Map<string, WebAssembly.Module>();

/** Whether this engine can compile WASM SIMD (a 1-instruction probe module). */
export const simdSupported: boolean = (() => {
  // (module (func (result v128) i32.const 0 i8x16.splat))
  const probe = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 8, 1, 6, 0, 65, 0, 253, 15, 11]);
  return WebAssembly.validate(probe);
})();

export function compileKernel(file: string): WebAssembly.Module {
  let mod = compiled.get(file);
  if (!mod) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(join(WASM_DIR, file));
    } catch (e) {
      throw new EarshotError('E_WASM', `the WASM kernel ${join(WASM_DIR, file)} is missing: in a checkout run \`npm run build\` (it compiles assembly/ with AssemblyScript); an installed package ships it, so reinstall earshot`, { cause: e });
    }
    try {
      mod = new WebAssembly.Module(new Uint8Array(bytes));
    } catch (e) {
      throw new EarshotError('E_WASM', `${join(WASM_DIR, file)} is not a valid WASM module: rebuild it with \`npm run build\` (or reinstall earshot)`, { cause: e });
    }
    compiled.set(file, mod);
  }
  return mod;
}

/**
 * A kernel's exports as asc's raw bindings declare them (`dist/wasm/NAME.d.ts`, written beside the
 * module by scripts/build-wasm.sh): `KernelExports<typeof import('.../NAME.js')>`.
 */
export type KernelExports<Bindings extends { instantiate(...args: never[]): Promise<unknown> }> = Awaited<ReturnType<Bindings['instantiate']>>;

/** Instantiates a kernel; AssemblyScript's abort() becomes an E_WASM error with its message. */
export function instantiateKernel<T extends { memory: WebAssembly.Memory }>(file: string): T {
  let memory: WebAssembly.Memory | undefined;
  // AssemblyScript strings: UTF-16 code units, byte length in the u32 before the pointer
  const readString = (ptr: number): string => {
    if (!memory || ptr === 0) return '';
    const bytes = new Uint32Array(memory.buffer, ptr - 4, 1)[0]!;
    return String.fromCharCode(...new Uint16Array(memory.buffer, ptr, bytes >>> 1));
  };
  const env = {
    abort(message: number, source: number, line: number, col: number): never {
      throw new EarshotError('E_WASM', `WASM kernel ${file} aborted: ${readString(message)} at ${readString(source)}:${line}:${col}`);
    },
  };
  const instance = new WebAssembly.Instance(compileKernel(file), { env });
  memory = instance.exports.memory as WebAssembly.Memory;
  return instance.exports as unknown as T;
}
