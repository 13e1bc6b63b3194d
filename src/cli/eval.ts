// `gdnsq eval`: accuracy of a checkpoint on the test split of its dataset; for a quantized
// checkpoint also the true bit-width of every quantizer and a check that every quantized
// tensor lies on its integer grid inside its target range.
import { Command } from 'commander';
import { Tensor } from '../engine';
import { DATASET_NAMES, DatasetName, loadDataset, BatchLoader } from '../data';
import { quantizerBits, bitsSummary, resetObservedCodes, verifyGrid } from '../quant';
import { evaluate } from '../train';
import { loadModel, quantOf } from './model-file';
import { int, oneOf } from './options';

interface EvalOpts { checkpoint: string; dataset?: DatasetName; dataDir?: string; json?: boolean; batchSize: number; verifyBatches: number }

export function runEval(o: EvalOpts): Record<string, unknown> {
  const { model, card } = loadModel(o.checkpoint);
  const dataset = o.dataset ?? (card.dataset as DatasetName);
  const data = loadDataset(dataset, { dataDir: o.dataDir });
  const loader = new BatchLoader({ dataset: data.test, batchSize: o.batchSize, normalize: card.normalize });
  const quant = quantOf(card);
  if (quant) resetObservedCodes(model);
  const res = evaluate(model, loader.epoch(0));
  const out: Record<string, unknown> = { top1: res.top1, top5: res.top5, loss: res.loss, n: res.n };
  if (!o.json) console.log(`${o.checkpoint}: ${card.model} on ${dataset} test (${res.n} images): top-1 ${(100 * res.top1).toFixed(2)}%, top-5 ${(100 * res.top5).toFixed(2)}%, loss ${res.loss.toFixed(4)}`);
  if (quant) {
    const bits = quantizerBits(model);
    const sum = bitsSummary(bits);
    const xs = function* (): Generator<Tensor> {
      for (let i = 0; i < Math.min(o.verifyBatches, loader.batchesPerEpoch); i++) yield loader.batch(0, i).x;
    };
    const grid = verifyGrid(model, xs());
    const bad = grid.filter((g) => !g.ok);
    Object.assign(out, { wbits_max: sum.weights.trueMax, abits_max: sum.activations.trueMax, wbits_min: sum.weights.trueMin, abits_min: sum.activations.trueMin, converged: sum.converged, on_grid: bad.length === 0 });
    if (!o.json) {
      console.log(`quantized (W${quant.options.wBits}A${quant.options.aBits}, ${quant.options.method ?? 'noise'}): true bits weights max ${sum.weights.trueMax.toFixed(3)} (narrowest channel ${sum.weights.trueMin.toFixed(3)}), activations max ${sum.activations.trueMax.toFixed(3)} (min ${sum.activations.trueMin.toFixed(3)}); converged: ${sum.converged}`);
      // Per-channel weights: the widest and the narrowest channel (a 0 is a channel with one level, a constant).
      for (const b of bits) console.log(`  ${b.name.padEnd(34)} target ${b.target}  true ${b.trueBits.toFixed(3)}${b.trueMin !== b.trueBits ? ` (narrowest channel ${b.trueMin.toFixed(3)})` : ''} (${b.trueSource})`);
      console.log(bad.length === 0 ? `grid check: all ${grid.length} quantized tensors are integer codes inside their target range`
        : `grid check FAILED for ${bad.map((g) => `${g.name} (codes ${g.codeMin}..${g.codeMax}, off-grid ${g.offGrid.toExponential(2)})`).join(', ')}`);
    }
  }
  if (o.json) console.log(JSON.stringify(out));
  return out;
}

export function registerEval(program: Command): void {
  program
    .command('eval')
    .description('evaluate a checkpoint on the test split (and verify a quantized one)')
    .requiredOption('--checkpoint <file>', 'a .safetensors model file written by gdnsq (a checkpoint or a packed file)')
    .option('--dataset <name>', `dataset (default: the checkpoint's; ${DATASET_NAMES.join(', ')})`, oneOf('--dataset', DATASET_NAMES))
    .option('--data-dir <dir>', 'folder with the dataset files')
    .option('--batch-size <n>', 'batch size', int('--batch-size', 1), 500)
    .option('--verify-batches <n>', 'test batches the activation grid check runs on', int('--verify-batches', 1), 2)
    .option('--json', 'print one JSON line')
    .action((o: EvalOpts) => { runEval(o); });
}
