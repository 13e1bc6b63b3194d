// `gdnsq export`: a checkpoint in another format. ONNX (src/export/onnx): a self-contained model
// for ONNX Runtime and other runtimes; --verify runs it in onnxruntime-node on the test set next
// to gdnsq's own forward. Packed (src/export/packed): the weights' integer codes bit-packed at
// their true width in one safetensors file, which gdnsq eval/export/info read.
import { Command } from 'commander';
import { DatasetName, loadDataset } from '../data';
import { MIN_OPSET, MAX_OPSET, writeOnnx, compareOnnx, OnnxComparison } from '../export/onnx';
import { exportPacked } from '../export/packed';
import { ModelCard } from '../train';
import { loadModel } from './model-file';
import { version } from './version';
import { int, oneOf } from './options';

export const FORMATS = ['onnx', 'packed'] as const;
export type ExportFormat = (typeof FORMATS)[number];

interface ExportOpts { checkpoint: string; format: ExportFormat; out: string; opset?: number; verify?: boolean; dataDir?: string; batchSize: number; json?: boolean }

/** The card fields an exported file keeps: what the model is, never this machine's paths. */
export function portableCard(card: ModelCard): Record<string, unknown> {
  const { model, args, dataset, normalize, quant } = card;
  return { model, args, dataset, normalize, ...(quant ? { quant } : {}) };
}


function runPacked(o: ExportOpts): Record<string, unknown> {
  if (o.opset !== undefined || o.verify) throw new Error('--opset and --verify apply to --format onnx (check a packed file with gdnsq eval)');
  const e = exportPacked(o.checkpoint, o.out);
  const fp32 = e.layers.reduce((a, l) => a + l.fp32Bytes, 0), packed = e.layers.reduce((a, l) => a + l.packedBytes, 0);
  const out = { out: o.out, bytes: e.bytes, quantized_layers: e.layers.length, quantized_fp32_bytes: fp32, quantized_packed_bytes: packed };
  if (o.json) console.log(JSON.stringify(out));
  else console.log(`${o.out}: ${(e.bytes / 1024).toFixed(1)} KiB; ${e.layers.length} quantized layers in ${(packed / 1024).toFixed(1)} KiB (${(100 * packed / Math.max(1, fp32)).toFixed(2)}% of their FP32 bytes)`);
  return out;
}

export async function runExport(o: ExportOpts): Promise<Record<string, unknown>> {
  if (o.format === 'packed') return runPacked(o);
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
    .description('write a checkpoint as a self-contained ONNX model (pixels in [0, 1] → logits) or a bit-packed file')
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
