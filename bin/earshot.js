#!/usr/bin/env node
// earshot is written in TypeScript and run through tsx's loader (a runtime dependency), so the
// installed package needs no separate compile step.
import { register } from 'tsx/esm/api';
register();
await import('../src/cli.ts');
