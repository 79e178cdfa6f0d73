#!/usr/bin/env node
// Reads an `strace -f -y -e trace=connect,sendto,openat,creat,mkdir,mkdirat,rename,renameat,renameat2`
// log and lists what a private run must never do (docs/privacy.md):
//   - a DNS query: a connect or sendto to port 53 (any address; with the fix there are none at all)
//   - a connection to anything but loopback and the allowed peers (a remote broker, when configured)
//   - a file or directory created, written or renamed outside the allowed directories
//     (the state directory; /tmp for the test's own files; /dev for /dev/null and ttys)
// Used by test/e2e/privacy-strace.test.ts and scripts/verify-deb.sh:
//   node scripts/strace-check.mjs TRACE --allow DIR [--allow DIR ...] [--peer HOST:PORT ...]
// exits 1 and prints each violation when there is one.
import { readFileSync } from 'node:fs';
import { isAbsolute, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const WRITE_FLAGS = /O_(WRONLY|RDWR|CREAT|TRUNC|APPEND)/;

const isLoopbackAddr = (a) => a === '::1' || a.startsWith('127.') || a.startsWith('::ffff:127.') || a === '0.0.0.0' || a === '::';

/** `openat(3</tmp/x>, "y", ...)` -> the directory of the fd (strace -y), or null for AT_FDCWD. */
function dirOf(arg) {
  const m = /^(?:\d+|AT_FDCWD)<([^>]*)>$/.exec(arg.trim());
  return m ? m[1] : null;
}

function absolute(dirArg, path, cwd) {
  if (isAbsolute(path)) return normalize(path);
  const dir = dirArg === undefined ? cwd : (dirOf(dirArg) ?? (/AT_FDCWD/.test(dirArg) ? cwd : null));
  return dir ? resolve(dir, path) : `?/${path}`;
}

/**
 * @param {string} trace the strace log
 * @param {{ allow: string[], peers?: string[], cwd?: string }} opts
 * @returns {string[]} one line per violation
 */
// eslint-disable-next-line complexity -- one pass over the strace log with one branch per kind of system call; the cases read best side by side
export function violations(trace, opts) {
  const allow = opts.allow.map((d) => normalize(d).replace(/\/$/, ''));
  const peers = new Set(opts.peers ?? []);
  const cwd = opts.cwd ?? process.cwd();
  const inAllowed = (p) => p === '/dev/null' || p.startsWith('/dev/') || allow.some((d) => p === d || p.startsWith(`${d}/`));
  const out = [];
  for (const line of trace.split('\n')) {
    if (/ = -1 /.test(line) && !/EINPROGRESS/.test(line)) continue; // a failed call changed nothing
    const call = /^(?:\[pid\s+\d+\]\s*|\d+\s+)?(\w+)\((.*)$/.exec(line.trim());
    if (!call) continue;
    const [, name, rest] = call;
    if (name === 'connect' || name === 'sendto') {
      const port = /sin6?_port=htons\((\d+)\)/.exec(rest)?.[1];
      const addr = /inet_addr\("([^"]+)"\)/.exec(rest)?.[1] ?? /inet_pton\(AF_INET6, "([^"]+)"/.exec(rest)?.[1];
      if (port === '53') out.push(`DNS query: ${line.trim()}`);
      else if (addr && port && !isLoopbackAddr(addr) && !peers.has(`${addr}:${port}`)) out.push(`connection off the machine: ${line.trim()}`);
      // a connected UDP socket to :53 sends without an address; strace -y names the peer
      else if (name === 'sendto' && /<UDP:\[[^\]]*->[^\]]*:53\]>/.test(rest)) out.push(`DNS query: ${line.trim()}`);
      continue;
    }
    const strs = [...rest.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]);
    const args = rest.split(', ');
    let paths = [];
    if (name === 'openat' && WRITE_FLAGS.test(rest)) paths = [absolute(args[0], strs[0] ?? '', cwd)];
    else if (name === 'open' && WRITE_FLAGS.test(rest)) paths = [absolute(undefined, strs[0] ?? '', cwd)];
    else if (name === 'creat' || name === 'mkdir') paths = [absolute(undefined, strs[0] ?? '', cwd)];
    else if (name === 'mkdirat') paths = [absolute(args[0], strs[0] ?? '', cwd)];
    else if (name === 'rename') paths = strs.slice(0, 2).map((s) => absolute(undefined, s, cwd));
    else if (name === 'renameat' || name === 'renameat2') paths = [absolute(args[0], strs[0] ?? '', cwd), absolute(args[2], strs[1] ?? '', cwd)];
    for (const p of paths) if (!inAllowed(p)) out.push(`file written outside the state directory: ${p}: ${line.trim()}`);
  }
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const [file, ...rest] = process.argv.slice(2);
  const allow = [];
  const peers = [];
  for (let i = 0; i < rest.length; i += 2) (rest[i] === '--peer' ? peers : allow).push(rest[i + 1]);
  const found = violations(readFileSync(file, 'utf8'), { allow, peers });
  for (const v of found) console.log(v);
  console.log(`strace-check: ${found.length} violation(s) in ${file}`);
  process.exit(found.length > 0 ? 1 : 0);
}
