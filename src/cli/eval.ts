// `gdnsq eval`: accuracy of a checkpoint on the test split of its dataset.
import { Command } from 'commander';
import { DATASET_NAMES, DatasetName, loadDataset, BatchLoader } from '../data';
import { createModel } from '../models';
import { evaluate, loadModelFile } from '../train';
import { int, oneOf } from './options';

interface EvalOpts { checkpoint: string; dataset?: DatasetName; dataDir?: string; json?: boolean; batchSize: number }

export function runEval(o: EvalOpts): void {
  const { state, card } = loadModelFile(o.checkpoint);
  const dataset = o.dataset ?? (card.dataset as DatasetName);
  const data = loadDataset(dataset, { dataDir: o.dataDir });
  const model = createModel(card.model, card.args);
  model.loadStateDict(state, { strict: true });
  const res = evaluate(model, new BatchLoader({ dataset: data.test, batchSize: o.batchSize, normalize: card.normalize }).epoch(0));
  if (o.json) console.log(JSON.stringify({ top1: res.top1, top5: res.top5, loss: res.loss, n: res.n }));
  else console.log(`${o.checkpoint}: ${card.model} on ${dataset} test (${res.n} images): top-1 ${(100 * res.top1).toFixed(2)}%, top-5 ${(100 * res.top5).toFixed(2)}%, loss ${res.loss.toFixed(4)}`);
}

export function registerEval(program: Command): void {
  program
    .command('eval')
    .description('evaluate a checkpoint on the test split')
    .requiredOption('--checkpoint <file>', 'a .safetensors model file written by gdnsq')
    .option('--dataset <name>', `dataset (default: the checkpoint's; ${DATASET_NAMES.join(', ')})`, oneOf('--dataset', DATASET_NAMES))
    .option('--data-dir <dir>', 'folder with the dataset files')
    .option('--batch-size <n>', 'batch size', int('--batch-size', 1), 500)
    .option('--json', 'print one JSON line')
    .action((o: EvalOpts) => runEval(o));
}
