// gdnsq as a dependency: `npm pack`, installed into a fresh project offline, used through its
// bin and its library API. The install runs with --ignore-scripts and the repo's built addon is
// copied in (the install-time native build takes minutes); the install script's failure path
// (no libtorch) is run on its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync, SpawnSyncOptions } from 'child_process';

const root = path.resolve(__dirname, '..', '..', '..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gdnsq-pack-'));
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string; license: string; dependencies: Record<string, string>; bin: Record<string, string>; engines: Record<string, string> };

function run(cmd: string, args: string[], o: SpawnSyncOptions = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...o, env: { ...process.env, npm_config_update_notifier: 'false', ...(o.env ?? {}) } });
  return { status: r.status, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/**
 * A lock file for the fresh project: gdnsq from the tarball, its dependencies as the repo's own
 * lock pins them (with their registry URLs), so `npm ci --offline` takes them from npm's cache,
 * which the repo's `npm ci` filled.
 */
function writeProject(app: string, tarball: string): void {
  const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version: string; dev?: boolean; devOptional?: boolean }> };
  const spec = `file:${path.relative(app, tarball)}`;
  const packages: Record<string, unknown> = {
    '': { name: 'app', version: '1.0.0', dependencies: { gdnsq: spec } },
    'node_modules/gdnsq': { version: pkg.version, resolved: spec, hasInstallScript: true, license: pkg.license, dependencies: pkg.dependencies, bin: pkg.bin, engines: pkg.engines },
  };
  for (const [k, v] of Object.entries(lock.packages)) {
    if (!k || v.dev || v.devOptional) continue;
    const name = k.slice(k.lastIndexOf('node_modules/') + 'node_modules/'.length);
    packages[k] = { resolved: `https://registry.npmjs.org/${name}/-/${name.split('/').pop()}-${v.version}.tgz`, ...v };
  }
  fs.mkdirSync(app, { recursive: true });
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, dependencies: { gdnsq: spec } }));
  fs.writeFileSync(path.join(app, 'package-lock.json'), JSON.stringify({ name: 'app', version: '1.0.0', lockfileVersion: 3, requires: true, packages }));
}

const APP_JS = `
const { quant, models, Tensor, scope, manualSeed } = require('gdnsq');
manualSeed(0);
const m = models.createModel('smallcnn', { inChannels: 1, numClasses: 4 });
quant.quantize(m, { wBits: 2, aBits: 2 });
scope(() => { quant.calibrate(m, [Tensor.randn([8, 1, 12, 12])], { startBits: 2 }); });
const grid = scope(() => quant.verifyGrid(m, [Tensor.randn([4, 1, 12, 12])]));
const bits = quant.quantizerBits(m);
console.log(JSON.stringify({ layers: quant.quantizedLayers(m).map(([n]) => n), onGrid: grid.every((g) => g.ok), checks: grid.length,
  wTrue: bits.filter((b) => b.role === 'weight').map((b) => b.trueBits), converged: quant.bitsSummary(bits).converged }));
`;
const APP_TS = `import { quant, models, deploy } from 'gdnsq';
const m: models.Model = models.createModel('smallcnn', {});
const r: quant.QuantizeReport = quant.quantize(m, { wBits: 2, aBits: 2 });
const n: number = deploy.packedBytes(10, 3) + r.layers.length;
export { n };
`;

test('npm pack ships only what a user needs; installed offline, the bin and the library work', () => {
  const packed = run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: root });
  assert.equal(packed.status, 0, packed.stderr);
  const info = (JSON.parse(packed.stdout) as { filename: string; entryCount: number; files: { path: string }[] }[])[0];
  const files = info.files.map((f) => f.path);
  for (const f of ['dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/cli/main.js', 'bin/gdnsq', 'binding.gyp', 'native/src/addon.cc', 'scripts/install.js', 'scripts/libtorch.js', 'scripts/build.js', 'package.json', 'README.md', 'LICENSE']) {
    assert.ok(files.includes(f), `${f} is not in the tarball`);
  }
  const stray = files.filter((f) => /^(test|experiments|bench|models|dist\/test|dist\/bench|dist\/experiments|node_modules|build)\/|\.map$|\.ts$(?<!\.d\.ts)/.test(f));
  assert.deepEqual(stray, []);

  const app = path.join(dir, 'app');
  writeProject(app, path.join(dir, info.filename));
  const inst = run('npm', ['ci', '--offline', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: app });
  assert.equal(inst.status, 0, inst.stderr);
  const installed = path.join(app, 'node_modules', 'gdnsq');

  // The install script without libtorch: one line, exit 0; require('gdnsq') then names the problem.
  const noTorch = run(process.execPath, [path.join(installed, 'scripts', 'install.js')], { cwd: installed, env: { LIBTORCH: path.join(dir, 'no-libtorch') } });
  assert.equal(noTorch.status, 0);
  assert.match(noTorch.stderr, /^gdnsq: native addon not built: LIBTORCH=.*no-libtorch has no include\/torch\/csrc\/api\/include\/torch\/torch\.h: point it at an unpacked libtorch; then run `npm rebuild gdnsq`\n$/);
  const req = run(process.execPath, ['-e', "require('gdnsq')"], { cwd: app });
  assert.notEqual(req.status, 0);
  assert.match(req.stderr, /Error: gdnsq: native addon not built: LIBTORCH=.*no-libtorch has no .*; then run `npm rebuild gdnsq`\n/);

  fs.rmSync(path.join(installed, 'build'), { recursive: true, force: true });
  fs.mkdirSync(path.join(installed, 'build', 'Release'), { recursive: true });
  fs.copyFileSync(path.join(root, 'build', 'Release', 'gdnsq_native.node'), path.join(installed, 'build', 'Release', 'gdnsq_native.node'));

  const help = run('npm', ['exec', '--offline', '--', 'gdnsq', '--help'], { cwd: app });
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /^Usage: gdnsq \[options\] \[command\]/);
  for (const cmd of ['quantize', 'eval', 'info', 'import']) assert.match(help.stdout, new RegExp(`^  ${cmd} `, 'm'));
  const version = run(path.join(app, 'node_modules', '.bin', 'gdnsq'), ['--version'], { cwd: app });
  assert.equal(version.stdout.trim(), pkg.version);

  fs.writeFileSync(path.join(app, 'app.js'), APP_JS);
  const lib = run(process.execPath, ['app.js'], { cwd: app, env: { GDNSQ_THREADS: '1' } });
  assert.equal(lib.status, 0, lib.stderr);
  const out = JSON.parse(lib.stdout) as { layers: string[]; onGrid: boolean; checks: number; wTrue: number[]; converged: boolean };
  assert.deepEqual(out.layers, ['conv2', 'conv3']);
  assert.equal(out.checks, 4);
  assert.equal(out.onGrid, true);
  assert.deepEqual(out.wTrue, [2, 2]);
  assert.equal(out.converged, true);

  // The types resolve from node_modules/gdnsq (dist/src/index.d.ts).
  fs.writeFileSync(path.join(app, 'app.ts'), APP_TS);
  const tsc = run(process.execPath, [require.resolve('typescript/bin/tsc', { paths: [root] }), '--noEmit', '--strict', '--module', 'commonjs', '--moduleResolution', 'node',
    '--target', 'ES2022', '--typeRoots', path.join(root, 'node_modules', '@types'), '--types', 'node', 'app.ts'], { cwd: app });
  assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);
});
