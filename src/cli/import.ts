// `gdnsq import`: a PyTorch FP state dict (torchvision naming) → a gdnsq checkpoint (export/import.ts).
import { Command, InvalidArgumentError } from 'commander';
import { MODEL_NAMES } from '../models';
import { DATASET_NAMES } from '../data';
import { importStateDict } from '../export/import';
import { int, oneOf } from './options';

interface ImportCliOptions { from: string; model: string; inChannels: number; classes: number; normalize: number[]; dataset?: string; out: string }

/** "m1,…,mC,s1,…,sC": C means then C standard deviations. */
function numbers(v: string): number[] {
  const xs = v.split(',').map((s) => Number(s.trim()));
  if (xs.length < 2 || xs.length % 2 || xs.some((x) => !Number.isFinite(x))) {
    throw new InvalidArgumentError(`--normalize takes the means then the stds, comma-separated (e.g. 0.286,0.353), got '${v}'`);
  }
  return xs;
}

export function registerImport(program: Command): void {
  program
    .command('import')
    .description('turn a PyTorch-trained FP state dict (torchvision names) into a gdnsq checkpoint, ready for quantize')
    .requiredOption('--from <file>', 'a .safetensors state dict, or a .pt/.pth file from torch.save(model.state_dict())')
    .requiredOption('--model <name>', `architecture (${MODEL_NAMES.join(', ')})`, oneOf('--model', MODEL_NAMES))
    .requiredOption('--in-channels <n>', 'input channels', int('--in-channels', 1))
    .requiredOption('--classes <n>', 'number of classes', int('--classes', 1))
    .requiredOption('--normalize <mean,std>', 'input normalization: the C means then the C stds, comma-separated', numbers)
    .option('--dataset <name>', `dataset the model was trained on (recorded in the card; eval and quantize use it; ${DATASET_NAMES.join(', ')})`, oneOf('--dataset', DATASET_NAMES))
    .requiredOption('--out <file>', 'checkpoint to write (.safetensors)')
    .action((o: ImportCliOptions) => {
      const half = o.normalize.length / 2;
      const card = importStateDict({
        from: o.from, model: o.model, inChannels: o.inChannels, numClasses: o.classes,
        normalize: { mean: o.normalize.slice(0, half), std: o.normalize.slice(half) }, dataset: o.dataset, out: o.out,
      });
      console.log(`${o.out}: ${card.model} ${JSON.stringify(card.args)} imported from ${o.from}`);
    });
}
