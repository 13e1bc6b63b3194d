// `gdnsq import`: a PyTorch FP state dict (torchvision naming) → a gdnsq checkpoint (export/import.ts).
import { Command, InvalidArgumentError } from 'commander';
import { MODEL_NAMES } from '../models';
import { DATASET_NAMES } from '../data';
import { importStateDict } from '../export/import';
import { importOnnx } from '../export/import-onnx';
import { int, oneOf } from './options';

interface ImportCliOptions { from: string; model?: string; inChannels?: number; classes?: number; normalize?: number[]; dataset?: string; out: string }

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
    .description('turn a PyTorch-trained FP model into a gdnsq checkpoint, ready for train/quantize/export: an ONNX file (any supported graph), or a state dict with torchvision names')
    .requiredOption('--from <file>', 'model.onnx (torch.onnx.export), a .safetensors state dict, or a .pt/.pth file from torch.save(model.state_dict())')
    .option('--model <name>', `architecture of a state dict (${MODEL_NAMES.join(', ')})`, oneOf('--model', MODEL_NAMES))
    .option('--in-channels <n>', 'input channels (state dict)', int('--in-channels', 1))
    .option('--classes <n>', 'number of classes (state dict)', int('--classes', 1))
    .option('--normalize <mean,std>', 'input normalization, the C means then the C stds, comma-separated: required for a state dict; for ONNX it is added in front of the graph (default: none, the graph takes pixels in [0, 1] as they come)', numbers)
    .option('--dataset <name>', `dataset the model was trained on (recorded in the card; eval and quantize use it; ${DATASET_NAMES.join(', ')})`, oneOf('--dataset', DATASET_NAMES))
    .requiredOption('--out <file>', 'checkpoint to write (.safetensors)')
    .action((o: ImportCliOptions) => {
      const half = (o.normalize?.length ?? 0) / 2;
      const normalize = o.normalize ? { mean: o.normalize.slice(0, half), std: o.normalize.slice(half) } : undefined;
      if (o.from.toLowerCase().endsWith('.onnx')) {
        if (o.model || o.inChannels || o.classes) throw new Error('import: --model, --in-channels and --classes apply to state dicts (an ONNX file says what it is)');
        const r = importOnnx({ from: o.from, out: o.out, dataset: o.dataset, normalize });
        const kinds = new Map<string, number>();
        for (const [, t] of r.layers) kinds.set(t, (kinds.get(t) ?? 0) + 1);
        console.log(`${o.out}: ONNX graph of ${r.nodes} nodes imported from ${o.from} (input [N, ${r.model.desc.input.shape.join(', ')}], ${r.model.config.numClasses} classes, opset ${r.model.desc.opset}); ` +
          `layers: ${[...kinds].map(([t, k]) => `${k} ${t}`).join(', ')}; ${r.model.numParameters()} parameters`);
        r.model.dispose();
        return;
      }
      const missing = (['model', 'inChannels', 'classes', 'normalize'] as const).filter((k) => o[k] === undefined);
      if (missing.length) throw new Error(`import: a state dict needs ${missing.map((k) => `--${k === 'inChannels' ? 'in-channels' : k}`).join(', ')}`);
      const card = importStateDict({
        from: o.from, model: o.model!, inChannels: o.inChannels!, numClasses: o.classes!, normalize: normalize!, dataset: o.dataset, out: o.out,
      });
      console.log(`${o.out}: ${card.model} ${JSON.stringify(card.args)} imported from ${o.from}`);
    });
}
