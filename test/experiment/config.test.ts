// Grid configs: a bad field fails with one line naming it (row, field, what it must be, what
// it got); paths are relative to the config file; the committed Fashion-MNIST grid lists the
// issue's rows and each training row's budget plans a feasible descent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { packageRoot } from '../../src/engine/native';
import { parseGridConfig, loadGridConfig, selectRows, trainingOptions, withSeeds } from '../../src/experiment';
import { planDescent } from '../../src/quant';
import { plannedQuantizerLr } from '../../src/train';

const base = {
  teacher: 'fp.safetensors', dataset: { name: 'idx', dataDir: 'data' }, budget: { epochs: 3, batchSize: 20 },
  rows: [{ name: 'P', method: 'ptq', options: { wBits: 2, aBits: 2 } }, { name: 'G', method: 'gdnsq', options: { wBits: 2, aBits: 2 } }],
};
type Cfg = Record<string, unknown>;
const withRow = (i: number, row: unknown): Cfg => ({ ...base, rows: base.rows.map((r, j) => (j === i ? row : r)) });
const err = (cfg: unknown): string => {
  try {
    parseGridConfig(cfg, '/x/grid.json');
  } catch (e) {
    return (e as Error).message;
  }
  return 'no error';
};

test('config errors name the field, what it must be and what it got', () => {
  const { teacher: _t, ...noTeacher } = base;
  assert.equal(err(noTeacher), 'grid.json: teacher is missing');
  assert.equal(err([]), 'grid.json: the config must be an object, got []');
  assert.equal(err({ ...base, budget: { epochs: 0, batchSize: 20 } }), 'grid.json: budget.epochs must be an integer ≥ 1, got 0');
  assert.equal(err({ ...base, budget: { epochs: 3 } }), 'grid.json: budget.batchSize is missing');
  assert.equal(err(withRow(1, { name: 'M', method: 'gdnsq', options: { wBits: 2, aBits: 2, budget: { wBits: 9 } } })),
    'grid.json: rows[1] (M).options.budget is not a mean bit-width budget: it.wBits (9) must not exceed maxBits (8), got {"wBits":9}');
  assert.equal(err(withRow(1, { name: 'P', method: 'ptq', options: { wBits: 2, aBits: 2, budget: { wBits: 2 } } })),
    'grid.json: rows[1] (P).options.budget: a mean bit-width budget is learned in training, a ptq row takes none');
  assert.equal(err({ ...base, dataset: { name: 'imagenet' } }), 'grid.json: dataset.name must be one of fashion-mnist, mnist, idx, cifar10, cifar100, got "imagenet"');
  assert.equal(err({ ...base, rows: [] }), 'grid.json: rows must be a non-empty array, got []');
  assert.equal(err(withRow(1, { name: 'G', method: 'gdnsq', options: { wBits: '2', aBits: 2 } })), 'grid.json: rows[1] (G).options.wBits must be a number > 0, got "2"');
  assert.equal(err(withRow(1, { name: 'G', method: 'gdnsq', options: { aBits: 2 } })), 'grid.json: rows[1] (G).options.wBits is missing');
  assert.equal(err(withRow(1, { name: 'G', method: 'qat', options: { wBits: 2, aBits: 2 } })), 'grid.json: rows[1] (G).method must be one of fp, gdnsq, ptq, fixed, got "qat"');
  assert.equal(err(withRow(1, { name: 'G', method: 'gdnsq', options: { wBits: 2, aBits: 2, anneal: 'linear' } })), 'grid.json: rows[1] (G).options.anneal must be one of exp, cosine, none, got "linear"');
  assert.equal(err(withRow(1, { name: 'G', method: 'gdnsq', options: { wBits: 2, aBits: 2, descent: 1.5 } })), 'grid.json: rows[1] (G).options.descent must be a fraction in (0, 1), got 1.5');
  assert.equal(err(withRow(1, { name: 'G', method: 'gdnsq', options: { wBits: 2, aBits: 2 }, budget: { epochs: 2.5 } })), 'grid.json: rows[1] (G).budget.epochs must be an integer ≥ 1, got 2.5');
  assert.match(err(withRow(1, { name: 'G', method: 'gdnsq', options: { wBits: 2, aBits: 2, lrr: 1 } })), /^grid\.json: rows\[1\] \(G\)\.options\.lrr is not a known field \(known: wBits, aBits, method, /);
  assert.equal(err(withRow(0, { name: 'P', method: 'ptq', options: { wBits: 2, aBits: 2, lr: 0.1 } })), "grid.json: rows[0] (P).options.lr: a ptq row does not train, so it takes no 'lr'");
  assert.equal(err(withRow(0, { name: 'P', method: 'fp', options: { wBits: 2 } })), 'grid.json: rows[0] (P).options: an fp row evaluates the teacher and takes no options');
  assert.equal(err(withRow(0, { name: 'a/b', method: 'fp' })), 'grid.json: rows[0] (a/b).name must be letters, digits, \'.\', \'_\' or \'-\' (it names the row\'s folder), got "a/b"');
  assert.equal(err(withRow(0, { name: 'G', method: 'fp' })), "grid.json: rows: the name 'G' is used twice");
  assert.equal(err({ ...base, compare: { beats: { G: 'F' } } }), "grid.json: compare.beats: no row named 'F'");
  assert.equal(err({ ...base, compare: { goals: { G: 'one' } } }), 'grid.json: compare.goals.G must be a number, got "one"');
  assert.match(err({ ...base, extra: 1 }), /^grid\.json: extra is not a known field \(known: title, teacher, /);
});

test('parsed config: paths relative to the config file, budgets merged, rows selected by name', () => {
  const c = parseGridConfig(withRow(1, { name: 'G', method: 'gdnsq', options: { wBits: 2, aBits: 2 }, budget: { epochs: 5 } }), '/x/y/grid.json');
  assert.equal(c.teacher, '/x/y/fp.safetensors');
  assert.equal(c.dataset.dataDir, '/x/y/data');
  assert.deepEqual(c.rows.map((r) => r.budget), [{ epochs: 3, batchSize: 20 }, { epochs: 5, batchSize: 20 }]);
  assert.deepEqual(selectRows(c, ['G']).map((r) => r.name), ['G']);
  assert.throws(() => selectRows(c, ['G', 'Q']), { message: "no row named 'Q' in grid.json (rows: P, G)" });
});

test('seeds: a training row may list its seeds (distinct integers ≥ 0), default the config seed; --seeds overrides the selected training rows', () => {
  const G = (seeds: unknown): Cfg => withRow(1, { name: 'G', method: 'gdnsq', options: { wBits: 2, aBits: 2 }, seeds });
  const must = 'must be a non-empty array of distinct integers ≥ 0';
  assert.equal(err(G([])), `grid.json: rows[1] (G).seeds ${must}, got []`);
  assert.equal(err(G([0, 1, 1])), `grid.json: rows[1] (G).seeds ${must}, got [0,1,1]`);
  assert.equal(err(G([0, -1])), `grid.json: rows[1] (G).seeds ${must}, got [0,-1]`);
  assert.equal(err(G([0, 1.5])), `grid.json: rows[1] (G).seeds ${must}, got [0,1.5]`);
  assert.equal(err(G('0,1')), `grid.json: rows[1] (G).seeds ${must}, got "0,1"`);
  assert.equal(err(G(2)), `grid.json: rows[1] (G).seeds ${must}, got 2`);
  assert.equal(err(withRow(0, { name: 'P', method: 'ptq', options: { wBits: 2, aBits: 2 }, seeds: [0, 1] })),
    "grid.json: rows[0] (P).seeds: a ptq row does not train, it is deterministic and runs once (at the config's seed)");
  assert.equal(err(withRow(0, { name: 'FP', method: 'fp', seeds: [0] })), "grid.json: rows[0] (FP).seeds: an fp row does not train, it is deterministic and runs once (at the config's seed)");
  // `<row>-seed<s>` is a seed's folder.
  assert.equal(err(withRow(0, { name: 'G-seed1', method: 'fp' })), "grid.json: rows[0] (G-seed1).name must not end in '-seed<n>' (that names the folder of a row's seed run), got \"G-seed1\"");

  const c = parseGridConfig({ ...G([2, 0, 1]), seed: 7, rows: [...G([2, 0, 1]).rows as unknown[], { name: 'F', method: 'fixed', options: { wBits: 1, aBits: 1 } }] }, '/x/grid.json');
  // In the order given; the default is the config's seed, for every row.
  assert.deepEqual(c.rows.map((r) => [r.name, r.seeds]), [['P', [7]], ['G', [2, 0, 1]], ['F', [7]]]);
  assert.deepEqual(withSeeds(c, [0, 1]).rows.map((r) => [r.name, r.seeds]), [['P', [7]], ['G', [0, 1]], ['F', [0, 1]]]);
  assert.deepEqual(withSeeds(c, [3], ['P', 'F']).rows.map((r) => [r.name, r.seeds]), [['P', [7]], ['G', [2, 0, 1]], ['F', [3]]]);
  assert.throws(() => withSeeds(c, [1, 1]), { message: 'seeds must be a non-empty array of distinct integers ≥ 0, got [1,1]' });
  assert.throws(() => withSeeds(c, [1], ['Q']), { message: "no row named 'Q' in grid.json (rows: P, G, F)" });
});

test('trainingOptions: fixed rows start at the target with LSQ steps and LSQ activation init; row options win', () => {
  const row = (method: string, options: Record<string, unknown>) => parseGridConfig(withRow(1, { name: 'G', method, options }), '/x/grid.json').rows[1];
  assert.deepEqual(trainingOptions(row('fixed', { wBits: 2, aBits: 2 })), {
    quantize: { method: 'lsq', actMethod: 'lsq', startBits: 2, wBits: 2, aBits: 2 }, finetune: { actInit: 'lsq', startBits: 2, qlr: 0.01 },
  });
  assert.equal(trainingOptions(row('fixed', { wBits: 1, aBits: 32 })).quantize.startBits, 1);
  assert.equal(trainingOptions(row('fixed', { wBits: 1, aBits: 1, actInit: 'minmax' })).finetune.actInit, 'minmax');
  assert.throws(() => row('fixed', { wBits: 1, aBits: 1, actInit: 'mean' }), /actInit/);
  assert.deepEqual(trainingOptions(row('gdnsq', { wBits: 2, aBits: 2, loss: 'labels', anneal: 'none', method: 'aewgs' })), {
    quantize: { wBits: 2, aBits: 2, method: 'aewgs' }, finetune: { loss: 'labels', anneal: 'none' },
  });
});

for (const [file, epochs] of [['fashion-mnist-resnet20.json', 10], ['fashion-mnist-resnet20-long.json', 100]] as const) test(`the committed grid ${file}: the issue rows, ${epochs} epochs, every training row plans a feasible descent`, () => {
  const c = loadGridConfig(path.join(packageRoot, 'experiments', 'grid', file));
  assert.ok(c.rows.every((r) => r.budget.epochs === epochs && r.budget.batchSize === 128));
  const names = c.rows.map((r) => r.name).sort();
  const settings = ['W4A4', 'W3A3', 'W2A2', 'W1A32', 'W1A1'];
  assert.deepEqual(names, ['FP', ...settings, ...settings.map((s) => `${s}-ptq`), 'W2A2-fixed', 'W1A1-fixed',
    'W2A2-labels', 'W2A2-no-anneal', 'W2A2-no-gradual', 'W2A2-aewgs', 'W2A2-mixed'].sort());
  // Three seeds on the rows the GDNSQ-against-fixed comparisons rest on; one run elsewhere.
  if (file === 'fashion-mnist-resnet20.json') {
    assert.deepEqual(c.rows.filter((r) => r.seeds.length > 1).map((r) => [r.name, r.seeds]),
      [['W2A2-fixed', [0, 1, 2]], ['W1A1-fixed', [0, 1, 2]], ['W2A2', [0, 1, 2]], ['W1A1', [0, 1, 2]]]);
  }
  assert.ok(c.rows.every((r) => r.seeds.length > 1 || (r.seeds.length === 1 && r.seeds[0] === c.seed)));
  // The mixed row: the same size budget as W2A2, as means.
  assert.deepEqual(c.rows.find((r) => r.name === 'W2A2-mixed')!.options, { wBits: 2, aBits: 2, budget: { wBits: 2, aBits: 2 } });
  assert.ok(fs.existsSync(c.teacher));
  // 55,000 training images (60,000 less the 5,000 validation images), batch 128.
  for (const r of c.rows.filter((x) => x.method === 'gdnsq' || x.method === 'fixed')) {
    const steps = r.budget.epochs * Math.ceil(55000 / r.budget.batchSize);
    const { quantize: q, finetune: f } = trainingOptions(r);
    const start = f.startBits ?? 10, minTarget = Math.min(q.wBits, q.aBits);
    const plan = planDescent({ totalSteps: steps, startBits: start, minTarget });
    // train.finetune refuses a plan that needs a quantizer LR above 0.75.
    assert.ok(plannedQuantizerLr(plan, start, minTarget) <= 0.75, `${r.name}: ${plannedQuantizerLr(plan, start, minTarget)}`);
  }
});

test('CLI: a bad config or row name is one line and exit 1', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gdnsq-expcfg-'));
  try {
    const file = path.join(dir, 'grid.json');
    fs.writeFileSync(file, JSON.stringify(withRow(1, { name: 'G', method: 'gdnsq', options: { wBits: 0, aBits: 2 } })));
    const bin = path.join(packageRoot, 'bin', 'gdnsq');
    const r = spawnSync(process.execPath, [bin, 'experiment', 'grid', '--config', file, '--out', path.join(dir, 'out')], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.equal(r.stderr, 'gdnsq: grid.json: rows[1] (G).options.wBits must be a number > 0, got 0\n');
    fs.writeFileSync(file, JSON.stringify(base));
    const s = spawnSync(process.execPath, [bin, 'experiment', 'row', '--config', file, '--row', 'Q', '--out', path.join(dir, 'out')], { encoding: 'utf8' });
    assert.equal(s.status, 1);
    assert.equal(s.stderr, "gdnsq: no row named 'Q' in grid.json (rows: P, G)\n");
    // --seed names one of the row's seeds (--seeds may set them); FP and PTQ rows run once.
    const seedErr = (args: string[]): string => {
      const x = spawnSync(process.execPath, [bin, 'experiment', 'row', '--config', file, '--out', path.join(dir, 'out'), ...args], { encoding: 'utf8' });
      assert.equal(x.status, 1, x.stderr);
      return x.stderr;
    };
    assert.equal(seedErr(['--row', 'G', '--seed', '1']), "gdnsq: --seed 1 is not one of row G's seeds (0); name them with --seeds\n");
    assert.equal(seedErr(['--row', 'P', '--seed', '1', '--seeds', '0,1']), 'gdnsq: row P (ptq) is deterministic: it runs once, at seed 0\n');
    assert.match(seedErr(['--row', 'G', '--seeds', '0,0']), /^error: option '--seeds <list>' argument '0,0' is invalid\. --seeds must be distinct integers ≥ 0, comma-separated, got '0,0'\n/);
    assert.match(seedErr(['--row', 'G', '--seeds', '0,-1']), /--seeds must be distinct integers ≥ 0, comma-separated, got '0,-1'\n/);
    fs.writeFileSync(file, '{"rows": [');
    const t = spawnSync(process.execPath, [bin, 'experiment', 'grid', '--config', file, '--out', path.join(dir, 'out'), '--status'], { encoding: 'utf8' });
    assert.equal(t.status, 1);
    assert.match(t.stderr, /^gdnsq: grid\.json: not valid JSON \(.+\)\n$/);
    assert.ok(!fs.existsSync(path.join(dir, 'out')), 'nothing was written');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
