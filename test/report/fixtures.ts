// Tiny synthetic run folders with the record shapes cli/quantize.ts and cli/train.ts write.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `gdnsq-report-${prefix}-`));
}

function write(dir: string, records: object[], summary?: object): string {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'metrics.jsonl'), records.map((r) => `${JSON.stringify(r)}\n`).join(''));
  if (summary) fs.writeFileSync(path.join(dir, 'summary.json'), JSON.stringify(summary, null, 2));
  return dir;
}

// Two layers, W2A3; blockB.fc's activations end above their target (3.6319 > 3).
const layers = (w: number, a: number) => ({
  'blockA.conv.act_quant': { target: 3, bits: a, true: a - 0.5 },
  'blockA.conv.weight_quant': { target: 2, bits: w, true: w - 0.25 },
  'blockB.fc.act_quant': { target: 3, bits: a, true: a + 0.3219 },
  'blockB.fc.weight_quant': { target: 2, bits: w, true: w },
});

export const QUANT_SUMMARY = {
  teacher: '/runs/fp/best.safetensors', dataset: 'fashion-mnist', wbits: 2, abits: 3, method: 'noise', loss: 'skl',
  fp_top1: 0.9123, quant_top1: 0.8876, delta_pt: -2.47, converged: false, wbits_max: 2, abits_max: 3.6319,
  checkpoint: '/runs/q/last.safetensors', epochs_run: 2, steps: 120, wall_seconds: 75.4,
  settings: { wBits: 2, aBits: 3, lr: 0.001, kappa: 2 }, fp_layers: [{ name: 'stem', reason: 'first conv' }], layers: layers(2, 3.31),
};

export function quantizeRun(dir: string, withSummary = true): string {
  const step = (s: number, loss: number, t: number, w: number, a: number) => ({ kind: 'step', step: s, loss, t, lr: 1e-3, layers: layers(w, a) });
  const epoch = (e: number, s: number, w: number, a: number) => ({
    epoch: e, step: s, seconds: 30, train_loss: 0.5, train_top1: 0.9, val_loss: 0.3, val_top1: 0.85 + e / 100,
    kind: 'epoch', converged: false, w_true_max: w, a_true_max: a + 0.3219, t: s, layers: layers(w, a),
  });
  return write(dir, [step(1, 0.02, 0, 8, 8), step(50, 0.04, 20, 5, 6), epoch(1, 60, 4, 5), step(100, 0.05, 70, 2.5, 3.5), epoch(2, 120, 2, 3.31)],
    withSummary ? QUANT_SUMMARY : undefined);
}

export const TRAIN_SUMMARY = {
  model: 'smallcnn', dataset: 'fashion-mnist', epochs_run: 3, best_epoch: 3, val_top1: 0.8812, test_top1: 0.8745,
  test_top5: 0.9951, test_loss: 0.34567, train_seconds: 3725, checkpoint: '/runs/fp/best.safetensors',
};

export function trainRun(dir: string): string {
  const epoch = (e: number) => ({ epoch: e, step: 100 * e, lr: 0.1, seconds: 20, train_loss: 1 / e, train_top1: 0.8 + e / 50, val_loss: 1.1 / e, val_top1: 0.82 + e / 50, val_top5: 0.99, metric: 0, best: 0 });
  return write(dir, [epoch(1), epoch(2), epoch(3)], TRAIN_SUMMARY);
}
