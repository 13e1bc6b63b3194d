import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { zipSync } from 'fflate';
import { Tensor, scope, noGrad, manualSeed } from '../../src/engine';
import { loadSafetensors, saveSafetensors } from '../../src/engine/safetensors';
import { createModel } from '../../src/models';
import { loadModel } from '../../src/cli/model-file';
import { importStateDict, ImportOptions } from '../../src/export/import';
import { readTorchStateDict } from '../../src/export/torch-pt';

const root = path.resolve(__dirname, '..', '..', '..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gdnsq-import-'));
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));
const PY = '/usr/bin/python3';
const hasTorch = fs.existsSync(PY) && spawnSync(PY, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
const opts = (from: string, o: Partial<ImportOptions> = {}): ImportOptions => ({
  from, model: 'resnet20', inChannels: 3, numClasses: 7, normalize: { mean: [0.5, 0.4, 0.3], std: [0.2, 0.2, 0.25] }, out: path.join(dir, 'out.safetensors'), ...o,
});

test('a PyTorch state dict (.pt and .safetensors) imports and gives PyTorch\'s logits', { skip: hasTorch ? false : 'python3-torch is not installed (apt-get install python3-torch)' }, () => {
  const py = spawnSync(PY, [path.join(root, 'test', 'export', 'torch-export.py'), dir, '--in-channels', '3', '--classes', '7'], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' } });
  assert.equal(py.status, 0, py.stderr);
  const outs: string[] = [];
  for (const ext of ['pt', 'safetensors']) {
    const out = path.join(dir, `imported-${ext}.safetensors`);
    const card = importStateDict(opts(path.join(dir, `state_dict.${ext}`), { out, dataset: 'cifar10' }));
    assert.deepEqual(card, {
      model: 'resnet20', args: { name: 'resnet20', inChannels: 3, numClasses: 7 }, dataset: 'cifar10',
      normalize: { mean: [0.5, 0.4, 0.3], std: [0.2, 0.2, 0.25] }, imported: { from: `state_dict.${ext}` },
    });
    outs.push(out);
  }
  scope(() => {
    const a = loadSafetensors(outs[0]).tensors, b = loadSafetensors(outs[1]).tensors;
    assert.deepEqual(Object.keys(a), Object.keys(b));
    for (const k of Object.keys(a)) assert.ok(a[k].equal(b[k]), `${k}: .pt and .safetensors imports differ`);
    assert.equal(a['layer1.0.bn1.num_batches_tracked'].item(), 3);
  });
  const { model } = loadModel(outs[0]);
  scope(() => {
    const { tensors } = loadSafetensors(path.join(dir, 'reference.safetensors'));
    const y = noGrad(() => model.eval().forward(tensors.x));
    const err = y.sub(tensors.y).abs().amax().item();
    assert.ok(err <= 1e-4 * Math.max(1, tensors.y.abs().amax().item()), `logits differ from PyTorch's by ${err}`);
    assert.equal(y.argmax(1).equal(tensors.y.argmax(1)), true);
  });
  model.dispose();
});

test('a state dict that does not fit names the first missing, mis-shaped or unexpected key', () => {
  manualSeed(0);
  const m = createModel('resnet20', { inChannels: 3, numClasses: 7 });
  const write = (name: string, edit: (sd: Record<string, Tensor>) => void): string => scope(() => {
    const sd = { ...m.stateDict() };
    edit(sd);
    const f = path.join(dir, name);
    saveSafetensors(f, sd);
    return f;
  });
  const ok = write('ok.safetensors', () => {});
  assert.throws(() => importStateDict(opts(ok, { numClasses: 10 })), /ok\.safetensors: does not fit resnet20 \(in 3, classes 10\): key 'fc\.weight' has shape \[7, 64\], resnet20 needs \[10, 64\]$/);
  assert.throws(() => importStateDict(opts(write('missing.safetensors', (sd) => { delete sd['layer2.0.bn1.running_var']; }))),
    /does not fit resnet20 \(in 3, classes 7\): missing key 'layer2\.0\.bn1\.running_var'$/);
  assert.throws(() => importStateDict(opts(write('extra.safetensors', (sd) => { sd['fc2.weight'] = Tensor.zeros([2]); }))), /: unexpected key 'fc2\.weight'$/);
  assert.throws(() => importStateDict(opts(write('nan.safetensors', (sd) => { sd['conv1.weight'] = Tensor.full([16, 3, 3, 3], NaN); }))), /tensor 'conv1\.weight' holds NaN or infinity$/);
  assert.throws(() => importStateDict(opts(ok, { normalize: { mean: [0.5], std: [0.2] } })), /normalize needs 3 mean and 3 std values/);
  // DataParallel's `module.` prefix is dropped.
  const dp = write('dp.safetensors', (sd) => { for (const k of Object.keys(sd)) { sd[`module.${k}`] = sd[k]; delete sd[k]; } });
  assert.equal(importStateDict(opts(dp)).model, 'resnet20');
  m.dispose();
});

test('a state dict without BatchNorm\'s num_batches_tracked imports (as PyTorch\'s strict load_state_dict accepts it): the counters start at 0', () => {
  manualSeed(0);
  const m = createModel('resnet20', { inChannels: 3, numClasses: 7 });
  const f = path.join(dir, 'no-counters.safetensors');
  scope(() => {
    const sd = Object.fromEntries(Object.entries(m.stateDict()).filter(([k]) => !k.endsWith('num_batches_tracked')));
    assert.ok(!('bn1.num_batches_tracked' in sd));
    saveSafetensors(f, sd);
  });
  const out = path.join(dir, 'no-counters-out.safetensors');
  importStateDict(opts(f, { out }));
  scope(() => {
    const t = loadSafetensors(out).tensors;
    assert.equal(t['bn1.num_batches_tracked'].item(), 0);
    assert.equal(t['layer3.2.bn2.num_batches_tracked'].dtype, 'int64');
    assert.ok(t['conv1.weight'].equal(m.stateDict()['conv1.weight']));
  });
  m.dispose();
});

/** A torch.save-style zip around a hand-written pickle. */
function ptFile(name: string, pickle: number[], extra: Record<string, Uint8Array> = {}): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, zipSync({ 'archive/data.pkl': Uint8Array.from(pickle), 'archive/byteorder': Buffer.from('little'), ...extra }, { level: 0 }));
  return f;
}
const bin = (s: string): number[] => [...Buffer.from(s, 'latin1')];

test('.pt files: pickled code is refused before anything runs; a plain tensor dict is read', () => {
  // pickle.dumps(os.system('touch …')) protocol 2: GLOBAL posix.system, a str argument, REDUCE.
  const flag = path.join(dir, 'pwned');
  const evil = [0x80, 0x02, ...bin('cposix\nsystem\n'), 0x58, ...[flag.length + 6, 0, 0, 0], ...bin(`touch ${flag}`), 0x85, 0x52, 0x2e];
  assert.throws(() => readTorchStateDict(ptFile('evil.pt', evil)), /evil\.pt: cannot read as a PyTorch state dict: refusing to load 'posix\.system': only state dicts \(tensors in dicts\) are read, no pickled code or classes$/);
  assert.equal(fs.existsSync(flag), false);
  // {'w': _rebuild_tensor_v2(('storage', FloatStorage, '0', 'cpu', 6), 0, (2, 3), (1, 2), False, OrderedDict())}
  // — a transposed (non-contiguous) view: w[i][j] = storage[i + 2j].
  const tensor = [
    0x80, 0x02, 0x7d, 0x58, 1, 0, 0, 0, ...bin('w'),
    ...bin('ctorch._utils\n_rebuild_tensor_v2\n'), 0x28,
    0x28, 0x58, 7, 0, 0, 0, ...bin('storage'), ...bin('ctorch\nFloatStorage\n'), 0x58, 1, 0, 0, 0, ...bin('0'), 0x58, 3, 0, 0, 0, ...bin('cpu'), 0x4b, 6, 0x74, 0x51,
    0x4b, 0, 0x4b, 2, 0x4b, 3, 0x86, 0x4b, 1, 0x4b, 2, 0x86, 0x89, ...bin('ccollections\nOrderedDict\n'), 0x29, 0x52, 0x74, 0x52,
    0x73, 0x2e,
  ];
  const storage = new Uint8Array(Float32Array.from([0, 1, 2, 3, 4, 5]).buffer);
  scope(() => {
    const sd = readTorchStateDict(ptFile('t.pt', tensor, { 'archive/data/0': storage }));
    assert.deepEqual(sd.w.shape, [2, 3]);
    assert.deepEqual(sd.w.toArray(), [0, 2, 4, 1, 3, 5]);
  });
  assert.throws(() => readTorchStateDict(ptFile('nostorage.pt', tensor)), /storage 0 is missing or not 6 elements\)$/);
  const notZip = path.join(dir, 'old.pt');
  fs.writeFileSync(notZip, Buffer.from([0x80, 0x02, 0x8a, 0x0a]));
  assert.throws(() => readTorchStateDict(notZip), /old\.pt: cannot read as a PyTorch state dict \(not a torch\.save zip file: .*; legacy pre-1\.6 \.pt files are not supported\)$/);
});
