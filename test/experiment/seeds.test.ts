// Rows with several seeds. From hand-written seed results (no training): the row is finished
// only when every seed is, its result is the mean with each seed's top-1 and the sample sd, the
// Markdown says mean ± sd and the beats gap, --status counts the seeds, `ship` takes the seed
// closest to the mean, and results files without seed fields still read. Then end to end
// through the CLI on the tiny grid: one seed run alone (`experiment row --seed 0`), the grid
// stopped inside the second seed and resumed, the combined row against its seeds' result.json;
// a run held by another live process is skipped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import * as os from 'os';
import { spawn, spawnSync } from 'child_process';
import { packageRoot } from '../../src/engine/native';
import {
  parseGridConfig, withSeeds, readRowResult, writeResults, readResults, gridStatus, formatStatus, shipRows, sampleSd, resultRow,
} from '../../src/experiment';
import { tmpDir } from '../data/files';
import { bin, env, cli, writeTinyTeacherAndData, writeTinyConfig } from './tiny-grid';

const dir = tmpDir();
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

const KEYS = ['setting', 'method', 'top1', 'converged', 'wbits_max', 'abits_max', 'epochs', 'wall_s', 'command', 'model_bytes', 'wbits_mean', 'abits_mean'];
const SEED_KEYS = [...KEYS, 'seeds', 'top1_seeds', 'top1_sd'];
const near = (a: number, b: number, tol = 1e-6): boolean => Math.abs(a - b) <= tol;
const pct = (x: number): string => (100 * x).toFixed(2);

test('seed results combined: null until every seed is done, mean ± sample sd, status per seed, Markdown ±, ship the seed nearest the mean', () => {
  const base = path.join(dir, 'hand');
  const out = path.join(base, 'runs');
  const config = parseGridConfig({
    title: 'hand', teacher: 'fp.safetensors', dataset: { name: 'idx' }, budget: { epochs: 2, batchSize: 20 }, results: 'results/hand.json',
    compare: { goals: { G: 5 }, beats: { G: 'F' } },
    rows: [
      { name: 'FP', method: 'fp' },
      { name: 'F', method: 'fixed', options: { wBits: 2, aBits: 2 } },
      { name: 'G', method: 'gdnsq', options: { wBits: 2, aBits: 2 }, seeds: [0, 1, 2] },
    ],
  }, path.join(base, 'hand.json'));
  const put = (folder: string, setting: string, method: string, top1: number, extra: Record<string, unknown> = {}): void => {
    fs.mkdirSync(path.join(out, folder), { recursive: true });
    fs.writeFileSync(path.join(out, folder, 'best.safetensors'), `checkpoint of ${folder}`);
    fs.writeFileSync(path.join(out, folder, 'result.json'), JSON.stringify({
      setting, method, top1, converged: true, wbits_max: 2, abits_max: 2, epochs: 2, wall_s: 10, command: `cmd ${folder}`, model_bytes: 1000,
      wbits_mean: 2, abits_mean: 2, checkpoint: 'best.safetensors', ...extra,
    }));
  };
  put('FP', 'FP', 'fp', 0.95, { wbits_max: 32, abits_max: 32, epochs: 0, wbits_mean: 32, abits_mean: 32 });
  put('F', 'F', 'fixed', 0.9);
  put('G', 'G', 'gdnsq', 0.90, { model_bytes: 1001, wall_s: 10.25 });
  put('G-seed1', 'G', 'gdnsq', 0.93, { wbits_max: 1.9, abits_max: 2.5, converged: false, epochs: 3, model_bytes: 1002, wall_s: 20.25 });
  const G = config.rows[2];

  // Two of three seeds: not finished, so not in the results; --status says which seed is where.
  assert.equal(readRowResult(out, G, config), null);
  const st = formatStatus(gridStatus(config, out));
  assert.equal(st.split('\n')[2], 'G   gdnsq  in progress  seed 0 done (90.00%), seed 1 done (93.00%), seed 2 not started');
  assert.match(st, /\n2 done, 1 in progress, 0 not started$/);
  const file = config.results!;
  assert.deepEqual(writeResults(config, out, file).rows.map((r) => r.setting), ['FP', 'F']);
  assert.throws(() => shipRows(config, { out, models: path.join(base, 'models'), rows: ['G'] }), { message: 'ship: row G is not finished (seed 2 of 0, 1, 2 not finished): run it first' });
  const said: string[] = [];
  assert.deepEqual(shipRows(config, { out, models: path.join(base, 'models'), rows: ['G'], finishedOnly: true, say: (l) => said.push(l) }), []);
  assert.deepEqual(said, ['G: not finished, not shipped']);

  put('G-seed2', 'G', 'gdnsq', 0.92, { wall_s: 30.25 });
  const g = readRowResult(out, G, config)!;
  const sd = Math.sqrt(((0.90 - 0.916667) ** 2 + (0.93 - 0.916667) ** 2 + (0.92 - 0.916667) ** 2) / 2);
  assert.deepEqual(Object.keys(g), SEED_KEYS);
  assert.ok(near(g.top1, (0.90 + 0.93 + 0.92) / 3) && near(g.top1_sd!, sd) && near(sampleSd([0.9, 0.93, 0.92]), sd), JSON.stringify(g));
  assert.deepEqual([g.seeds, g.top1_seeds], [[0, 1, 2], [0.90, 0.93, 0.92]]);
  // Converged only if every seed did; the max bits over seeds, wall time summed, the rest of the first seed.
  assert.deepEqual([g.converged, g.wbits_max, g.abits_max, g.wall_s, g.epochs, g.model_bytes], [false, 2, 2.5, 60.8, 2, 1001]);
  assert.equal(g.command, `gdnsq experiment row --config ${path.relative(process.cwd(), config.file)} --row G --seeds 0,1,2 --out ${path.relative(process.cwd(), out)}`);
  // A single run at the config's seed is its result unchanged: no seed fields.
  assert.deepEqual(Object.keys(readRowResult(out, config.rows[1], config)!), KEYS);
  assert.equal(sampleSd([0.5]), 0);

  const st2 = formatStatus(gridStatus(config, out));
  assert.equal(st2.split('\n')[2], 'G   gdnsq  done         top-1 91.67 ± 1.53% over 3 seeds, NOT converged, 61 s');

  // The results file keeps the seed fields; written twice, it reads back the same (readResults validates them).
  writeResults(config, out, file);
  const res = writeResults(config, out, file);
  assert.deepEqual(res.rows[2], g);
  assert.deepEqual(readResults(file), res);
  const md = fs.readFileSync(file.replace(/\.json$/, '.md'), 'utf8');
  assert.match(md, /^\| G \| gdnsq \| 91\.67 ± 1\.53 % \(3 seeds\) \| −3\.33 \|/m);
  assert.match(md, /^\| F \| fixed \| 90\.00% \| −5\.00 \|/m);
  assert.match(md, /\n\nSeeds: G: 3 seeds \(0, 1, 2\); the other rows one run \(seed 0\)\. Top-1 of a row with several seeds is the mean over its seeds, ± their sample standard deviation \(n − 1\); Δ and goals use the mean\.\n\n/);
  assert.match(md, /^- ✗ G: drop ≤ 5 pt: missed \(mean 91\.67 ± 1\.53 % \(3 seeds\), −3\.33 pt, not converged\)$/m);
  assert.match(md, /^- ✓ G above F: holds \(means 91\.67 ± 1\.53 % vs 90\.00%, gap \+1\.67 pt\)$/m);

  // ship: a row that did not converge at every seed is refused; converged, it ships seed 2 (92 %, nearest the mean 91.67 %).
  assert.throws(() => shipRows(config, { out, models: path.join(base, 'models'), rows: ['G'] }), /^Error: ship: row G did not converge at every seed \(true bits W 2 \/ A 2\.5, max over seeds 0, 1, 2\)/);
  put('G-seed1', 'G', 'gdnsq', 0.93);
  const [m] = shipRows(config, { out, models: path.join(base, 'models'), rows: ['G'] });
  assert.equal(m.seed, 2);
  assert.equal(fs.readFileSync(m.file, 'utf8'), 'checkpoint of G-seed2');
  const card = fs.readFileSync(m.card, 'utf8');
  assert.match(card, /^# fp-g\.safetensors — G \(gdnsq, grid row, seed 2\)$/m);
  assert.match(card, /^\| seeds \| seed 2 of 3 \(0, 1, 2\): 92\.00 %, the closest to the row's mean 91\.67 ± 1\.53 % \(seed 0 90\.00 %, seed 1 93\.00 %, seed 2 92\.00 %; ± is the sample sd\); all seeds: `gdnsq experiment row [^`]* --row G --seeds 0,1,2 --out [^`]*` \|$/m);
  assert.match(card, /^\| command \| `cmd G-seed2` \|$/m);
  assert.match(card, /^\| test top-1 \| \*\*92\.00 %\*\* \(`gdnsq eval --checkpoint models\/fp-g\.safetensors`\) \|$/m);

  // --seeds on F: its own folders for seeds other than the config's; a single other seed is marked.
  const three = withSeeds(config, [0, 3], ['F']);
  assert.equal(formatStatus(gridStatus(three, out)).split('\n')[1], 'F   fixed  in progress  seed 0 done (90.00%), seed 3 not started');
  put('F-seed3', 'F', 'fixed', 0.91);
  assert.deepEqual(readRowResult(out, three.rows[1], three)!.top1_seeds, [0.9, 0.91]);
  const only3 = withSeeds(config, [3], ['F']);
  const f3 = readRowResult(out, only3.rows[1], only3)!;
  assert.deepEqual([f3.top1, f3.seeds, f3.top1_seeds, f3.top1_sd], [0.91, [3], [0.91], 0]);
  writeResults(only3, out, path.join(base, 'results', 'only3.json'));
  assert.match(fs.readFileSync(path.join(base, 'results', 'only3.md'), 'utf8'), /^\| F \| fixed \| 91\.00% \(seed 3\) \|/m);

  // Results files from before seeds read as they were; a half set of seed fields is refused.
  const committed = readResults(path.join(packageRoot, 'experiments', 'results', 'fashion-mnist-resnet20.json'));
  assert.ok(committed.rows.length > 10 && committed.rows.every((r) => r.seeds === undefined || r.top1_seeds!.length === r.seeds.length));
  assert.throws(() => resultRow({ ...g, top1_sd: undefined }, 'r.json'), { message: "r.json: fields 'seeds', 'top1_seeds' and 'top1_sd' go together, got only 'seeds', 'top1_seeds'" });
  assert.throws(() => resultRow({ ...g, top1_seeds: [0.9] }, 'r.json'), { message: "r.json: 'top1_seeds' must have one value per seed (3), got 1" });
  assert.throws(() => resultRow({ ...g, seeds: [0, -1, 2] }, 'r.json'), { message: "r.json: field 'seeds' must be a non-empty array of integers ≥ 0, got [0,-1,2]" });
});

test('seeds end to end: one seed alone, the grid stopped in the second seed and resumed, the row their mean', async () => {
  const root = path.join(dir, 'e2e');
  writeTinyTeacherAndData(root);
  const config = writeTinyConfig(root, 'seeds', {
    compare: { goals: { G: 50 }, beats: { G: 'F' } },
    rows: [
      { name: 'FP', method: 'fp' },
      { name: 'F', method: 'fixed', options: { wBits: 2, aBits: 2 }, budget: { epochs: 1 } },
      { name: 'G', method: 'gdnsq', options: { wBits: 2, aBits: 2, schedule: 'kappa', warmupSteps: 5 }, budget: { epochs: 3 }, seeds: [0, 1] },
    ],
  });
  const gdnsq = (args: string[]): ReturnType<typeof cli> => cli(root, args);
  const common = ['--config', config, '--out', 'runs', '--no-progress'];
  const status = (): string => { const r = gdnsq(['experiment', 'grid', ...common, '--status']); assert.equal(r.status, 0, r.stderr); return r.stdout; };
  const result = (folder: string): Record<string, unknown> => JSON.parse(fs.readFileSync(path.join(root, 'runs', folder, 'result.json'), 'utf8')) as Record<string, unknown>;

  assert.match(status(), /^G   gdnsq  not started  2 seeds \(0, 1\)$/m);
  // A run another live process of this machine holds is skipped (two shells given the same seed);
  // a holder that is gone does not stop it.
  const holder = path.join(root, 'runs', 'G', 'running.json');
  fs.mkdirSync(path.dirname(holder), { recursive: true });
  fs.writeFileSync(holder, JSON.stringify({ pid: process.pid, host: os.hostname() }));
  const held = gdnsq(['experiment', 'row', '--row', 'G', '--seed', '0', ...common]);
  assert.equal(held.status, 0, held.stderr);
  assert.match(held.stderr, new RegExp(`^G seed 0: running in another process \\(pid ${process.pid}\\), skipped$`, 'm'));
  assert.doesNotMatch(held.stderr, /==/);
  assert.match(held.stdout, new RegExp(`^G  gdnsq  in progress  seed 0 running \\(pid ${process.pid}\\), no epoch saved yet, seed 1 not started$`, 'm'));
  const gone = spawnSync(process.execPath, ['-e', '0']).pid;
  fs.writeFileSync(holder, JSON.stringify({ pid: gone, host: os.hostname() }));
  // Seed 0 alone (as in a shell of its own): the row's folder; the row is in progress, not in the results.
  const one = gdnsq(['experiment', 'row', '--row', 'G', '--seed', '0', ...common]);
  assert.equal(one.status, 0, one.stderr);
  assert.match(one.stderr, /^== G seed 0 \(gdnsq\) → runs\/G$/m);
  assert.ok(fs.existsSync(path.join(root, 'runs', 'G', 'result.json')) && !fs.existsSync(path.join(root, 'runs', 'G-seed1')) && !fs.existsSync(holder));
  assert.equal(result('G').command, `gdnsq experiment row --config ${config} --row G --seeds 0,1 --seed 0 --out runs`);
  assert.match(status(), /^G   gdnsq  in progress  seed 0 done \(\d+\.\d\d%\), seed 1 not started$/m);
  assert.deepEqual((JSON.parse(fs.readFileSync(path.join(root, 'runs', 'results.json'), 'utf8')) as { rows: unknown[] }).rows, []);

  // The grid in the background, stopped with SIGTERM in seed 1's second epoch.
  const child = spawn(process.execPath, [bin, 'experiment', 'grid', '--config', config, '--out', 'runs'], { cwd: root, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const code = await new Promise<number | null>((resolve) => {
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (/== G seed 1 [^]*W2A2 epoch 2\/3/.test(err) && !child.killed) child.kill('SIGTERM');
    });
    child.on('exit', resolve);
  });
  assert.equal(code, 130, err);
  assert.match(err, /^G seed 0: done, skipped$/m);
  assert.match(err, /^== G seed 1 \(gdnsq\) → runs\/G-seed1$/m);
  assert.match(err, /^G seed 1: stopped; its state is saved/m);
  assert.match(status(), /^G   gdnsq  in progress  seed 0 done \(\d+\.\d\d%\), seed 1 epoch [12]\/3 saved\n2 done, 1 in progress, 0 not started\n$/m);
  assert.deepEqual((JSON.parse(fs.readFileSync(path.join(root, 'results', 'seeds.json'), 'utf8')) as { rows: { setting: string }[] }).rows.map((r) => r.setting), ['FP', 'F']);

  const again = gdnsq(['experiment', 'grid', ...common]);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stderr, /^G seed 1: resuming from G-seed1\/resume\.safetensors$/m);
  assert.match(again.stderr, /^G: top-1 \d+\.\d\d ± \d+\.\d\d% over 2 seeds, converged (true|false), [\d.]+ s$/m);
  assert.match(again.stdout, /^G   gdnsq  done         top-1 \d+\.\d\d ± \d+\.\d\d% over 2 seeds, (NOT )?converged, \d+ s\n3 done, 0 in progress, 0 not started\n/m);

  // Each seed trained with its own seed, in its own folder, with its own result.json.
  const [r0, r1] = [result('G'), result('G-seed1')];
  const seedOf = (f: string): unknown => (JSON.parse(fs.readFileSync(path.join(root, 'runs', f, 'summary.json'), 'utf8')) as { settings: { seed: unknown } }).settings.seed;
  assert.deepEqual([seedOf('G'), seedOf('G-seed1')], [0, 1]);
  assert.equal(r1.command, `gdnsq experiment row --config ${config} --row G --seeds 0,1 --seed 1 --out runs`);
  assert.deepEqual([r0.epochs, r1.epochs], [3, 3]);

  for (const file of [path.join(root, 'runs', 'results.json'), path.join(root, 'results', 'seeds.json')]) {
    const rows = (JSON.parse(fs.readFileSync(file, 'utf8')) as { rows: Record<string, unknown>[] }).rows;
    assert.deepEqual(rows.map((r) => r.setting), ['FP', 'F', 'G']);
    assert.deepEqual(Object.keys(rows[1]), KEYS);
    const g = rows[2];
    assert.deepEqual(Object.keys(g), SEED_KEYS);
    const t = [r0.top1 as number, r1.top1 as number];
    assert.ok(near(g.top1 as number, (t[0] + t[1]) / 2) && near(g.top1_sd as number, Math.abs(t[0] - t[1]) / Math.SQRT2), JSON.stringify(g));
    assert.deepEqual([g.seeds, g.top1_seeds], [[0, 1], t]);
    assert.deepEqual([g.converged, g.wbits_max, g.abits_max, g.epochs, g.model_bytes, g.wbits_mean, g.abits_mean],
      [!!r0.converged && !!r1.converged, Math.max(r0.wbits_max as number, r1.wbits_max as number), Math.max(r0.abits_max as number, r1.abits_max as number), r0.epochs, r0.model_bytes, r0.wbits_mean, r0.abits_mean]);
    assert.ok(near(g.wall_s as number, (r0.wall_s as number) + (r1.wall_s as number), 0.11));
    assert.equal(g.command, `gdnsq experiment row --config ${config} --row G --seeds 0,1 --out runs`);
  }
  const res = JSON.parse(fs.readFileSync(path.join(root, 'results', 'seeds.json'), 'utf8')) as { rows: { top1: number; top1_sd?: number }[] };
  const md = fs.readFileSync(path.join(root, 'results', 'seeds.md'), 'utf8');
  const [, f, g] = res.rows;
  assert.ok(md.includes(`| G | gdnsq | ${pct(g.top1)} ± ${pct(g.top1_sd!)} % (2 seeds) |`), md);
  assert.match(md, /^Seeds: G: 2 seeds \(0, 1\); the other rows one run \(seed 0\)\./m);
  assert.ok(md.includes(`above F: ${g.top1 > f.top1 ? 'holds' : 'missed'} (means ${pct(g.top1)} ± ${pct(g.top1_sd!)} % vs ${pct(f.top1)}%, gap `), md);
  const svg = fs.readFileSync(path.join(root, 'results', 'seeds.svg'), 'utf8');
  assert.ok(svg.includes('a row with several seeds: their mean, error bar ± 1 sample sd'));
});
