#!/usr/bin/env node
// earshot runs as compiled JavaScript (`npm run build` writes dist/; an installed package ships it).
// In a checkout, `npm run earshot -- ...` runs the TypeScript sources through tsx instead.
import { existsSync } from 'node:fs';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write(`earshot: ${cli.pathname} is missing: in a checkout run \`npm run build\` first (or \`npm run earshot -- ARGS\` to run the TypeScript sources); an installed package ships it, so reinstall earshot\n`);
  process.exit(70);
}
await import(cli.href);
