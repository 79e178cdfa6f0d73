// The lint rules of earshot (issue 30, item 4), run by test/e2e/lint.test.ts as part of `npm test`:
// typescript-eslint's recommended set plus the size rules of docs STYLE.md item 16 (a file one
// reads in a sitting, functions short enough to follow). An exception is written where it is, as
// `// eslint-disable-next-line RULE -- why`; a disable without a reason is itself reported.
// Import cycles are checked by test/e2e/lint.test.ts over scripts/import-graph.ts (the same parser as
// the layering rule) rather than by a plugin that would resolve every import a second time.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    // generated code, the WASM kernels (AssemblyScript, its own dialect), build output, fixtures
    ignores: ['dist/**', 'build/**', 'node_modules/**', 'assembly/**', 'test/fixtures/**', 'src/**/*.d.ts', 'schemas/**', 'experiments/**'],
  },
  {
    linterOptions: { reportUnusedDisableDirectives: 'error' },
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.js', '**/*.mjs'],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        performance: 'readonly',
        TextDecoder: 'readonly',
        TextEncoder: 'readonly',
        AbortController: 'readonly',
        fetch: 'readonly',
        structuredClone: 'readonly',
        queueMicrotask: 'readonly',
        WebAssembly: 'readonly',
      },
    },
    rules: {
      complexity: ['error', 25],
      'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true, IIFEs: true }],
      'max-lines': ['error', { max: 400, skipBlankLines: true, skipComments: true }],
      'max-depth': ['error', 5],
      // a `let` assigned after a closure that may read it first (guarded) is not a const in waiting
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
);
