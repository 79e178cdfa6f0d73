// The Debian packages: scripts/build-deb.sh builds earshot_<version>_{amd64,arm64}.deb with
// dpkg-deb (no network); their control fields, conffile, maintainer scripts and per-architecture
// native binaries are checked here, lintian runs on them, and on CI (root, a throwaway machine)
// scripts/verify-deb.sh installs the host's package, runs it as user earshot and removes it.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ROOT } from '../helpers/paths.ts';

const out = mkdtempSync(join(tmpdir(), 'earshot-deb-'));
process.once('exit', () => rmSync(out, { recursive: true, force: true }));
const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const debOf = (arch: string) => join(out, `earshot_${version}_${arch}.deb`);
const sh = (cmd: string, args: string[], timeout = 600_000) => spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', timeout, maxBuffer: 1 << 26 });
const hostArch = sh('dpkg', ['--print-architecture']).stdout.trim();

test('build-deb.sh makes an amd64 and an arm64 package', () => {
  const r = sh('bash', ['scripts/build-deb.sh', '--out', out]);
  assert.is(r.status, 0, r.stdout + r.stderr);
  for (const arch of ['amd64', 'arm64']) {
    assert.ok(existsSync(debOf(arch)), `${debOf(arch)} exists`);
    console.log(`  ${arch}: ${(statSync(debOf(arch)).size / 1e6).toFixed(1)} MB`);
  }
});

for (const arch of ['amd64', 'arm64']) {
  test(`${arch}: control fields, conffile, maintainer scripts, files in place`, () => {
    const field = (f: string) => sh('dpkg-deb', ['-f', debOf(arch), f]).stdout.trim();
    assert.is(field('Package'), 'earshot');
    assert.is(field('Version'), version);
    assert.is(field('Architecture'), arch);
    assert.match(field('Depends'), /nodejs \(>= 20\)/);
    assert.match(field('Depends'), /alsa-utils/);
    assert.match(field('Recommends'), /libportaudio2/);
    assert.match(field('Recommends'), /mosquitto/);
    const ctl = mkdtempSync(join(out, `ctl-${arch}-`));
    assert.is(sh('dpkg-deb', ['-e', debOf(arch), ctl]).status, 0);
    assert.is(readFileSync(join(ctl, 'conffiles'), 'utf8').trim(), '/etc/earshot/config.yaml');
    for (const s of ['postinst', 'prerm', 'postrm']) assert.is(sh('sh', ['-n', join(ctl, s)]).status, 0, `${s} parses`);
    // issue 29: files a root run left in the state directory are given back to earshot
    assert.match(readFileSync(join(ctl, 'postinst'), 'utf8'), /^\s*chown -R -h earshot:earshot \/var\/lib\/earshot$/m);
    const files = sh('dpkg-deb', ['-c', debOf(arch)]).stdout;
    for (const f of ['./usr/bin/earshot -> ../lib/earshot/bin/earshot.js', './usr/lib/earshot/dist/cli.js', './usr/lib/earshot/dist/wasm/frontend.wasm', './usr/lib/earshot/models/earshot-crnn.onnx',
      './lib/systemd/system/earshot.service', './etc/earshot/config.yaml', './usr/share/doc/earshot/copyright', './usr/share/doc/earshot/changelog.gz',
      // the examples (issue 31): where the package keeps them, and where Debian users look
      './usr/lib/earshot/examples/README.md', './usr/lib/earshot/examples/mqtt-websocket.html', './usr/lib/earshot/examples/node-red/flow.json', './usr/lib/earshot/examples/node-red/README.md',
      './usr/share/doc/earshot/examples -> ../../../lib/earshot/examples']) {
      assert.ok(files.includes(f), `${f} in the ${arch} package`);
    }
    assert.not.ok(/\/node_modules\/(tsx|typescript|assemblyscript|meyda|uvu)\//.test(files), 'no development dependency');
    assert.not.ok(files.includes('/usr/lib/earshot/src/'), 'no TypeScript sources');
  });

  test(`${arch}: onnxruntime's binary is for ${arch} only; a foreign-built PortAudio addon is left out`, () => {
    const x = mkdtempSync(join(out, `x-${arch}-`));
    assert.is(sh('dpkg-deb', ['-x', debOf(arch), x]).status, 0);
    const ort = join(x, 'usr/lib/earshot/node_modules/onnxruntime-node/bin/napi-v6/linux');
    const nodeArch = arch === 'amd64' ? 'x64' : 'arm64';
    assert.equal(sh('ls', [ort]).stdout.split('\n').filter(Boolean), [nodeArch]);
    const kind = sh('file', ['-b', join(ort, nodeArch, 'onnxruntime_binding.node')]).stdout;
    assert.match(kind, arch === 'amd64' ? /x86-64/ : /aarch64/);
    const naudiodon = join(x, 'usr/lib/earshot/node_modules/naudiodon');
    assert.is(existsSync(naudiodon), arch === hostArch, 'naudiodon only where it was built');
    const unit = readFileSync(join(x, 'lib/systemd/system/earshot.service'), 'utf8');
    assert.match(unit, /^ExecStart=\/usr\/bin\/node \/usr\/lib\/earshot\/bin\/earshot.js run --config \/etc\/earshot\/config.yaml$/m);
    assert.match(unit, /^RestartPreventExitStatus=64 65 66 78$/m);
    assert.match(unit, /^User=earshot$/m);
    // issue 29: ownership repaired before each start, ONNX Runtime's telemetry off
    assert.match(unit, /^ExecStartPre=\+\/bin\/chown -R -h earshot:earshot \/var\/lib\/earshot$/m);
    assert.match(unit, /^Environment=ORT_DISABLE_TELEMETRY=1$/m);
    // the sd-notify addon only where it was built; elsewhere systemd-notify children need NotifyAccess=all
    assert.is(existsSync(join(x, 'usr/lib/earshot/node_modules/sd-notify/build/Release/notify.node')), arch === hostArch);
    assert.match(unit, arch === hostArch ? /^NotifyAccess=main$/m : /^NotifyAccess=all$/m);
  });
}

test('lintian: no errors (the tags it still reports are explained in packaging/debian/lintian-overrides)', () => {
  const r = sh('lintian', ['--no-tag-display-limit', debOf(hostArch)]);
  assert.ok(r.error === undefined, 'lintian is installed (scripts/setup.sh installs it)');
  const errors = r.stdout.split('\n').filter((l) => l.startsWith('E: '));
  assert.equal(errors, [], r.stdout);
  const warnings = r.stdout.split('\n').filter((l) => l.startsWith('W: '));
  if (warnings.length) console.log(`  lintian warnings:\n    ${warnings.join('\n    ')}`);
});

// Installing a system package changes the machine: only where that is what the machine is for
// (CI's throwaway machine, or EARSHOT_TEST_DPKG=1), and only as root.
const mayInstall = process.getuid?.() === 0 && (process.env.CI === 'true' || process.env.EARSHOT_TEST_DPKG === '1');
test(`dpkg -i / run as earshot / dpkg -r / dpkg -P (scripts/verify-deb.sh)${mayInstall ? '' : ': not on this machine (needs root and CI=true or EARSHOT_TEST_DPKG=1)'}`, () => {
  if (!mayInstall) return;
  const r = sh('bash', ['scripts/verify-deb.sh', debOf(hostArch)]);
  console.log(r.stdout.replace(/^/gm, '  '));
  assert.is(r.status, 0, r.stdout + r.stderr);
});

test.run();
