// `gdnsq export`: a checkpoint in another format. ONNX (src/export/onnx): a self-contained model
// for ONNX Runtime and other runtimes; --verify runs it in onnxruntime-node on the test set next
// to gdnsq's own forward.
import { Command } from 'commander';
import * as fs from 'fs';
import * as path from 'path';
import { DatasetName, loadDataset } from '../data';
import { MIN_OPSET, MAX_OPSET, writeOnnx, compareOnnx, OnnxComparison } from '../export/onnx';
import { ModelCard } from '../train';
import { loadModel } from './model-file';
import { int, oneOf } from './options';

// 'packed' (src/export/packed) is wired here when that branch is merged: add it to FORMATS and
// call exportPacked(checkpoint, out) in runExport.
export const FORMATS = ['onnx'] as const;
export type ExportFormat = (typeof FORMATS)[number];

interface ExportOpts { checkpoint: string; format: ExportFormat; out: string; opset?: number; verify?: boolean; dataDir?: string; batchSize: number; json?: boolean }

/** The card fields an exported file keeps: what the model is, never this machine's paths. */
export function portableCard(card: ModelCard): Record<string, unknown> {
  const { model, args, dataset, normalize, quant } = card;
  return { model, args, dataset, normalize, ...(quant ? { quant } : {}) };
}

function version(): string {
  return (JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
}

export async function runExport(o: ExportOpts): Promise<Record<string, unknown>> {
  const { model, card } = loadModel(o.checkpoint);
  const r = writeOnnx(o.out, model, { normalize: card.normalize, opset: o.opset, card: portableCard(card), producerVersion: version() });
  const quantized = r.quantizers.filter((q) => q.mode === 'quantized');
  const containers = [...new Set(quantized.map((q) => q.container))].join(', ') || 'none (FP model)';
  const out: Record<string, unknown> = { out: o.out, bytes: r.bytes.length, opset: r.opset, ir_version: r.irVersion, quantizers: quantized.length, containers };
  if (!o.json) console.log(`${o.out}: ${(r.bytes.length / 1024).toFixed(1)} KiB, opset ${r.opset}, ${quantized.length} quantized tensors (integer types: ${containers})`);
  if (o.verify) {
    const data = loadDataset(card.dataset as DatasetName, { dataDir: o.dataDir });
    const c: OnnxComparison = await compareOnnx(o.out, model, data.test, card.normalize, { batchSize: o.batchSize });
    Object.assign(out, { verify: c });
    if (!o.json) {
      console.log(`ONNX Runtime ${c.ortVersion} (node, default options) on ${card.dataset} test (${c.n} images): top-1 ${(100 * c.top1Onnx).toFixed(2)}%, ` +
        `gdnsq ${(100 * c.top1Gdnsq).toFixed(2)}%; same prediction on ${c.samePredictions}/${c.n}`);
      console.log(`|logit difference| per image: median ${c.medianAbsLogitDiff.toExponential(1)}, 99th percentile ${c.p99AbsLogitDiff.toExponential(1)}, max ${c.maxAbsLogitDiff.toExponential(1)}; ${c.imagesOver1e4} images over 1e-4`);
    }
  }
  if (o.json) console.log(JSON.stringify(out));
  return out;
}

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('write a checkpoint as a self-contained ONNX model (pixels in [0, 1] → logits)')
    .requiredOption('--checkpoint <file>', 'a .safetensors model file written by gdnsq')
    .option('--format <name>', `output format (${FORMATS.join(', ')})`, oneOf('--format', FORMATS), 'onnx')
    .requiredOption('--out <file>', 'the file to write')
    .option('--opset <n>', `ONNX opset, ${MIN_OPSET}..${MAX_OPSET} (default: the smallest whose integer types hold the codes: 25 for 1-2 bits, 21 for 3-4 bits; 13 stores codes in uint8)`, int('--opset', 1))
    .option('--verify', 'run the file in onnxruntime-node on the test set and compare with gdnsq')
    .option('--data-dir <dir>', 'folder with the dataset files (for --verify)')
    .option('--batch-size <n>', 'batch size for --verify', int('--batch-size', 1), 500)
    .option('--json', 'print one JSON line')
    .action(async (o: ExportOpts) => { await runExport(o); });
}
