// The experiment runner end to end on a tiny IDX data set and a SmallCNN teacher, through the
// CLI: one row run alone, then the grid stopped (SIGTERM) inside a training row, `--status`
// saying what is done, in progress and not started, the grid run again skipping finished rows
// and continuing the stopped one from its resume state, and the results JSON (the issue's
// shape) and Markdown written for every finished row.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { spawn } from 'child_process';
import { MetricsLog } from '../../src/train';
import { tmpDir } from '../data/files';
import { bin, env, cli, writeTinyTeacherAndData, writeTinyConfig } from './tiny-grid';

const dir = tmpDir();
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));
const gdnsq = (args: string[]): { status: number | null; stdout: string; stderr: string } => cli(dir, args);

function setup(): string {
  writeTinyTeacherAndData(dir);
  return writeTinyConfig(dir, 'tiny', {
    compare: { goals: { G: 50 }, beats: { G: 'F' } },
    rows: [
      { name: 'FP', method: 'fp' },
      { name: 'P', method: 'ptq', options: { wBits: 2, aBits: 2 } },
      { name: 'F', method: 'fixed', options: { wBits: 2, aBits: 2 } },
      { name: 'G', method: 'gdnsq', options: { wBits: 2, aBits: 2, schedule: 'kappa', warmupSteps: 5 }, budget: { epochs: 6 } },
      { name: 'P1', method: 'ptq', options: { wBits: 1, aBits: 32 } },
    ],
  });
}

const KEYS = ['setting', 'method', 'top1', 'converged', 'wbits_max', 'abits_max', 'epochs', 'wall_s', 'command', 'model_bytes', 'wbits_mean', 'abits_mean'];

test('grid: a row alone, the grid stopped inside a row, --status, resumed, results JSON + Markdown', async () => {
  const config = setup();
  const common = ['--config', config, '--out', 'runs', '--no-progress'];
  const status = (): string => { const r = gdnsq(['experiment', 'grid', ...common, '--status']); assert.equal(r.status, 0, r.stderr); return r.stdout; };

  const p = gdnsq(['experiment', 'row', '--row', 'P', ...common]);
  assert.equal(p.status, 0, p.stderr);
  assert.match(status(), /^FP  fp     not started\nP   ptq    done         top-1 \d+\.\d\d%, converged, \d+ s\nF   fixed  not started\nG   gdnsq  not started\nP1  ptq    not started\n1 done, 0 in progress, 4 not started\n$/);

  // The grid in the background, stopped with SIGTERM in G's third epoch.
  const child = spawn(process.execPath, [bin, 'experiment', 'grid', '--config', config, '--out', 'runs'], { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const code = await new Promise<number | null>((resolve) => {
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (/== G [^]*W2A2 epoch 3\/6/.test(err) && !child.killed) child.kill('SIGTERM');
    });
    child.on('exit', resolve);
  });
  assert.equal(code, 130, err);
  assert.match(err, /^P: done, skipped$/m);
  assert.match(err, /^G: stopped; its state is saved/m);
  const st = status();
  assert.match(st, /^FP  fp     done {9}top-1 [^\n]+\nP   ptq    done [^\n]+\nF   fixed  done {9}top-1 \d+\.\d\d%, (NOT )?converged, \d+ s\nG   gdnsq  in progress  epoch \d\/6 saved \(step \d+\)\nP1  ptq    not started\n3 done, 1 in progress, 1 not started\n$/);
  // Stopped in epoch 3 or (on a slow machine) a little later: the saved state is mid-run, 20 steps per epoch.
  const [, epoch, step] = /epoch (\d)\/6 saved \(step (\d+)\)/.exec(st)!.map(Number);
  assert.ok(epoch >= 2 && epoch < 6 && step >= 20 * epoch && step < 20 * (epoch + 1), st);
  const partial = JSON.parse(fs.readFileSync(path.join(dir, 'runs', 'results.json'), 'utf8')) as { rows: { setting: string }[] };
  assert.deepEqual(partial.rows.map((r) => r.setting), ['FP', 'P', 'F']);

  const again = gdnsq(['experiment', 'grid', ...common]);
  assert.equal(again.status, 0, again.stderr);
  for (const n of ['FP', 'P', 'F']) assert.match(again.stderr, new RegExp(`^${n}: done, skipped$`, 'm'));
  assert.match(again.stderr, /^G: resuming from G\/resume\.safetensors$/m);
  assert.match(again.stdout, /5 done, 0 in progress, 0 not started/);

  // G: two sessions (the first stopped), every epoch logged once, its wall time their sum.
  const g = path.join(dir, 'runs', 'G');
  const sessions = MetricsLog.read(path.join(g, 'sessions.jsonl'));
  assert.deepEqual(sessions.map((s) => s.interrupted), [true, false]);
  assert.equal(sessions[0].epochs_run, epoch);
  const epochs = MetricsLog.read(path.join(g, 'metrics.jsonl')).filter((r) => r.kind === 'epoch').map((r) => r.epoch);
  assert.deepEqual(epochs, [1, 2, 3, 4, 5, 6]);

  // The fixed-bit row: a planned run that starts at its target (the planner takes start = target), LSQ steps.
  const f = JSON.parse(fs.readFileSync(path.join(dir, 'runs', 'F', 'summary.json'), 'utf8')) as { schedule: string; plan: { startBits: number } | null; settings: { quantize: Record<string, unknown> } };
  assert.deepEqual([f.schedule, f.plan?.startBits, f.settings.quantize.startBits, f.settings.quantize.method, f.settings.quantize.actMethod], ['planned', 2, 2, 'lsq', 'lsq']);

  for (const file of [path.join(dir, 'runs', 'results.json'), path.join(dir, 'results', 'tiny.json')]) {
    const res = JSON.parse(fs.readFileSync(file, 'utf8')) as { rows: Record<string, unknown>[] };
    assert.deepEqual(Object.keys(res), ['rows']);
    assert.deepEqual(res.rows.map((r) => r.setting), ['FP', 'P', 'F', 'G', 'P1']);
    for (const r of res.rows) {
      assert.deepEqual(Object.keys(r), KEYS);
      assert.ok(typeof r.top1 === 'number' && r.top1 >= 0 && r.top1 <= 1);
      assert.equal(r.command, `gdnsq experiment row --config grid/tiny.json --row ${r.setting} --out runs`);
    }
    const [fp, ptqRow, fixed, gd, w1a32] = res.rows;
    // No activation quantizer: the activations are FP, 32 bits.
    assert.deepEqual([w1a32.converged, w1a32.wbits_max, w1a32.abits_max, w1a32.wbits_mean, w1a32.abits_mean], [true, 1, 32, 1, 32]);
    // Min-max grids at the target use every level: the means are the targets.
    assert.deepEqual([fp.wbits_mean, fp.abits_mean, ptqRow.wbits_mean, ptqRow.abits_mean], [32, 32, 2, 2]);
    assert.deepEqual([fp.method, fp.wbits_max, fp.abits_max, fp.epochs, fp.model_bytes], ['fp', 32, 32, 0, fs.statSync(path.join(dir, 'fp.safetensors')).size]);
    assert.deepEqual([ptqRow.method, ptqRow.converged, ptqRow.wbits_max, ptqRow.abits_max, ptqRow.epochs], ['ptq', true, 2, 2, 0]);
    assert.equal(ptqRow.model_bytes, fs.statSync(path.join(dir, 'runs', 'P', 'packed.safetensors')).size);
    assert.deepEqual([fixed.method, fixed.epochs, gd.method, gd.epochs], ['fixed', 2, 'gdnsq', 6]);
    assert.ok(Math.abs((gd.wall_s as number) - sessions.reduce((s, x) => s + (x.wall_s as number), 0)) < 0.11);
    // A row packs when it converged; otherwise its codes may not fit the packed format.
    for (const r of [fixed, gd]) {
      assert.equal(r.converged, (r.wbits_max as number) <= 2 && (r.abits_max as number) <= 2);
      if (r.model_bytes !== null) assert.equal(r.model_bytes, fs.statSync(path.join(dir, 'runs', r.setting as string, 'packed.safetensors')).size);
      else assert.equal(r.converged, false);
    }
  }

  // The Markdown: one table row per setting, the goals judged from the JSON's numbers.
  const res = JSON.parse(fs.readFileSync(path.join(dir, 'results', 'tiny.json'), 'utf8')) as { rows: { setting: string; top1: number; converged: boolean }[] };
  const md = fs.readFileSync(path.join(dir, 'results', 'tiny.md'), 'utf8');
  // The results plot beside the table (SVG and PNG), naming every setting of the grid.
  const plot = fs.readFileSync(path.join(dir, 'results', 'tiny.svg'), 'utf8');
  assert.ok(plot.startsWith('<svg') && fs.readFileSync(path.join(dir, 'results', 'tiny.png')).subarray(1, 4).toString() === 'PNG');
  for (const s of ['>P<', '>G<', '>P1<']) assert.ok(plot.includes(s), `results plot lacks ${s}`);
  assert.match(md, /^# tiny grid\n/);
  const table = md.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| setting'));
  assert.deepEqual(table.map((l) => l.split(' | ')[0].slice(2)), ['FP', 'P', 'F', 'G', 'P1']);
  const [fpT, , fixT, gT] = res.rows;
  const holds = (100 * (fpT.top1 - gT.top1) <= 50 && gT.converged) ? 'holds' : 'missed';
  assert.match(md, new RegExp(`^- [✓✗] G: drop ≤ 50 pt: ${holds} \\(${(100 * gT.top1).toFixed(2)}%`, 'm'));
  const gap = 100 * (gT.top1 - fixT.top1);
  assert.match(md, new RegExp(`^- [✓✗] G above F: ${gT.top1 > fixT.top1 ? 'holds' : 'missed'} \\(${(100 * gT.top1).toFixed(2)}% vs ${(100 * fixT.top1).toFixed(2)}%, gap ${gap >= 0 ? '\\+' : '−'}${Math.abs(gap).toFixed(2)} pt\\)$`, 'm'));
  // Single-seed rows: no seed fields, no seeds note, no ±.
  assert.ok(!md.includes('±') && !md.includes('Seeds:'));
  assert.ok(!md.includes(dir) && !fs.readFileSync(path.join(dir, 'results', 'tiny.json'), 'utf8').includes(dir), 'no absolute paths');

  // Nothing left to do: a rerun changes nothing.
  const before = fs.readFileSync(path.join(dir, 'results', 'tiny.json'), 'utf8');
  const idle = gdnsq(['experiment', 'grid', ...common]);
  assert.equal(idle.status, 0, idle.stderr);
  assert.doesNotMatch(idle.stderr, /==/);
  assert.equal(fs.readFileSync(path.join(dir, 'results', 'tiny.json'), 'utf8'), before);
  // `experiment results` redraws the table and the plot from the JSON alone.
  fs.rmSync(path.join(dir, 'results', 'tiny.svg'));
  const redraw = gdnsq(['experiment', 'results', '--config', config]);
  assert.equal(redraw.status, 0, redraw.stderr);
  assert.deepEqual(redraw.stdout.trim().split('\n'), ['tiny.json', 'tiny.md', 'tiny.svg', 'tiny.png'].map((f) => path.join('results', f)));
  assert.equal(fs.readFileSync(path.join(dir, 'results', 'tiny.json'), 'utf8'), before);

  // `experiment ship`: the goal row G (default) as models/fp-g.safetensors, byte-equal to its
  // selected checkpoint, with a card from its result; a row that did not converge is refused.
  const ship = gdnsq(['experiment', 'ship', '--config', config, '--out', 'runs', '--models', 'models']);
  if (gT.converged) {
    assert.equal(ship.status, 0, ship.stderr);
    assert.equal(ship.stdout, `G: ${path.join('models', 'fp-g.safetensors')}, ${path.join('models', 'fp-g.md')}\n`);
    const picked = (JSON.parse(fs.readFileSync(path.join(g, 'result.json'), 'utf8')) as { checkpoint: string }).checkpoint;
    assert.ok(fs.readFileSync(path.join(dir, 'models', 'fp-g.safetensors')).equals(fs.readFileSync(path.join(g, picked))));
    const card = fs.readFileSync(path.join(dir, 'models', 'fp-g.md'), 'utf8');
    assert.match(card, new RegExp(`^\\| test top-1 \\| \\*\\*${(100 * gT.top1).toFixed(2)} %\\*\\*, FP teacher ${(100 * fpT.top1).toFixed(2)} %`, 'm'));
    assert.match(card, /^\| command \| `gdnsq experiment row --config grid\/tiny\.json --row G --out runs` \|$/m);
    assert.ok(!card.includes(dir), 'no absolute paths in the card');
  } else {
    assert.equal(ship.status, 1);
    assert.match(ship.stderr, /ship: row G did not converge \(true bits W [\d.]+ \/ A [\d.]+\): not shipped as a low-bit model/);
  }
  // --finished skips what is not shippable and says so, instead of refusing it.
  const lenient = gdnsq(['experiment', 'ship', '--config', config, '--out', 'runs', '--models', 'models2', '--rows', 'G', '--finished']);
  assert.equal(lenient.status, 0, lenient.stderr);
  if (gT.converged) assert.ok(fs.existsSync(path.join(dir, 'models2', 'fp-g.safetensors')));
  else assert.equal(lenient.stderr, 'G: not converged, not shipped\n');
  const teacherRow = gdnsq(['experiment', 'ship', '--config', config, '--out', 'runs', '--rows', 'FP']);
  assert.equal(teacherRow.status, 1);
  assert.match(teacherRow.stderr, /ship: row FP is the FP teacher itself/);
  assert.equal(teacherRow.stderr.trim().split('\n').length, 1, teacherRow.stderr);
});
