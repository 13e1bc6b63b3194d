// `gdnsq bench infer`: inference throughput and latency of the same model, on the same machine
// in one run, under four runtimes — the packed low-bit runtime (src/runtime), the FP32 model in
// libtorch, and the FP32 and quantized (Q/DQ) ONNX exports in onnxruntime-node — at each thread
// count and batch size; then per-layer times of the quantized convolutions (both kernels, and
// the FP32 convolution of the same shape). Inputs are the first images of the test split.
import * as fs from 'fs';
import * as path from 'path';
import { Tensor, scope, noGrad, setNumThreads, getNumThreads, encodeSafetensors, F } from '../src/engine';
import { createModel } from '../src/models';
import { loadDataset, BatchLoader, DatasetName } from '../src/data';
import { ModelCard } from '../src/train';
import { loadModel } from '../src/export/load';
import { exportOnnx } from '../src/export/onnx';
import { exportPacked } from '../src/export/packed';
import { peekMetadata } from '../src/export/packed-format';
import { load as loadRuntime, PackedModel, PackedConv2d } from '../src/runtime';
import { KernelMode, KERNEL_MODES, channelsLast, features } from '../src/runtime/kernels';
import { timeSteps } from './timing';

export type InferRuntime = 'packed' | 'libtorch-fp32' | 'ort-fp32' | 'ort-qdq';
export interface InferRow { model: string; runtime: InferRuntime; threads: number; batch: number; img_per_s: number; latency_ms: number; bytes: number }
export interface LayerRow { model: string; layer: string; shape: string; wbits: number; abits: number; threads: number; batch: number; chosen: KernelMode; ms: Record<KernelMode | 'fp32', number | null> }
export interface InferBench { rows: InferRow[]; layers: LayerRow[]; cpu: { avx512Popcnt: boolean; avx512Vnni: boolean }; notes: string[] }

export interface InferBenchOptions {
  checkpoints: string[];
  threads: number[];
  batches: number[];
  /** Timed runs per measurement (batch 1 takes 20× as many). */
  iters: number;
  ort: boolean;
  layers: boolean;
  dataDir?: string;
  log?: (line: string) => void;
}

/** Every quantized model under dir (safetensors with a quant card, not packed files), read from the headers only. */
export function quantizedModels(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).filter((f) => f.endsWith('.safetensors') && !f.endsWith('.packed.safetensors')).sort()
    .map((f) => path.join(dir, f)).filter((f) => {
      try {
        const card = JSON.parse(peekMetadata(f)?.gdnsq ?? 'null') as ModelCard | null;
        return !!(card?.quant as { options?: unknown } | undefined)?.options;
      } catch {
        return false;
      }
    });
}

interface OrtSession { run(feeds: Record<string, unknown>): Promise<Record<string, unknown>>; release?(): Promise<void> }
interface Ort {
  InferenceSession: { create(model: Uint8Array, o: Record<string, unknown>): Promise<OrtSession> };
  Tensor: new (type: 'float32', data: Float32Array, dims: number[]) => unknown;
}
function loadOrt(): Ort | null {
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    return require('onnxruntime-node') as Ort;
  } catch {
    return null;
  }
}

function modelName(card: ModelCard): string {
  const o = (card.quant as { options: { wBits: number; aBits: number } }).options;
  return `w${o.wBits}a${o.aBits}`;
}

/** Median seconds of an async step. */
async function timeAsync(step: () => Promise<void>, iters: number, warmup = 3): Promise<number> {
  for (let i = 0; i < warmup; i++) await step();
  const t: number[] = [];
  for (let i = 0; i < iters; i++) {
    const t0 = process.hrtime.bigint();
    await step();
    t.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return t.sort((a, b) => a - b)[Math.floor(t.length / 2)];
}

export async function benchInfer(o: InferBenchOptions): Promise<InferBench> {
  const log = o.log ?? (() => undefined);
  const ort = o.ort ? loadOrt() : null;
  const notes: string[] = [];
  if (o.ort && !ort) notes.push('onnxruntime-node is not installed: the ort rows are missing');
  const rows: InferRow[] = [];
  const layers: LayerRow[] = [];
  const threads0 = getNumThreads();
  const tmp = fs.mkdtempSync(path.join(require('os').tmpdir(), 'gdnsq-bench-infer-'));
  try {
    for (const file of o.checkpoints) {
      const { model: qmodel, card } = loadModel(file);
      const name = modelName(card);
      const packedFile = path.join(tmp, `${name}.packed.safetensors`);
      const packedBytes = exportPacked(file, packedFile).bytes;
      const fp = createModel(card.model, card.args);
      fp.eval();
      const fpBytes = encodeSafetensors(fp.stateDict()).length;
      const onnxFp = ort ? exportOnnx(fp, { normalize: card.normalize }).bytes : null;
      const onnxQ = ort ? exportOnnx(qmodel, { normalize: card.normalize }).bytes : null;
      const runtime = loadRuntime(packedFile);
      const data = loadDataset(card.dataset as DatasetName, { dataDir: o.dataDir });
      const maxBatch = Math.max(...o.batches);
      const loader = new BatchLoader({ dataset: data.test, batchSize: maxBatch, normalize: card.normalize });
      const rawLoader = new BatchLoader({ dataset: data.test, batchSize: maxBatch });
      const xAll = loader.batch(0, 0).x.keep(), rawAll = rawLoader.batch(0, 0).x.keep();
      try {
        for (const t of o.threads) {
          setNumThreads(t);
          const sessions = ort && onnxFp && onnxQ ? {
            'ort-fp32': await ort.InferenceSession.create(onnxFp, { intraOpNumThreads: t, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' }),
            'ort-qdq': await ort.InferenceSession.create(onnxQ, { intraOpNumThreads: t, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' }),
          } : null;
          for (const b of o.batches) {
            const iters = b === 1 ? o.iters * 20 : o.iters;
            const x = scope(() => xAll.narrow(0, 0, b).contiguous().keep());
            const xl = scope(() => channelsLast(x).keep());
            const raw = Float32Array.from(scope(() => rawAll.narrow(0, 0, b).contiguous().data() as Float32Array));
            const add = (runtimeName: InferRuntime, s: number, bytes: number): void => {
              rows.push({ model: name, runtime: runtimeName, threads: t, batch: b, img_per_s: b / s, latency_ms: 1000 * s, bytes });
              log(`${name} ${runtimeName.padEnd(13)} threads ${t} batch ${String(b).padStart(3)}: ${(b / s).toFixed(0).padStart(6)} img/s, ${(1000 * s).toFixed(2)} ms`);
            };
            add('packed', timeSteps(() => scope(() => { runtime.forward(xl); }), iters), packedBytes);
            add('libtorch-fp32', timeSteps(() => noGrad(() => scope(() => { fp.forward(x); })), iters), fpBytes);
            if (sessions && ort) {
              const feed = { pixels: new ort.Tensor('float32', raw, rawAll.shape.map((d, i) => (i === 0 ? b : d))) };
              add('ort-fp32', await timeAsync(async () => { await sessions['ort-fp32'].run(feed); }, iters), onnxFp!.length);
              add('ort-qdq', await timeAsync(async () => { await sessions['ort-qdq'].run(feed); }, iters), onnxQ!.length);
            }
            x.dispose();
            xl.dispose();
          }
          if (sessions) for (const s of Object.values(sessions)) await s.release?.();
          if (o.layers) layers.push(...layerTimes(name, packedFile, xAll, t, o.iters));
        }
      } finally {
        xAll.dispose();
        rawAll.dispose();
        runtime.dispose();
        fp.dispose();
        qmodel.dispose();
      }
    }
  } finally {
    setNumThreads(threads0);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return { rows, layers, cpu: features(), notes };
}

/**
 * Each packed convolution timed alone (unfused: quantizer pass, convolution, fp32 output) on the
 * input it gets in the model (batch of xAll), with each kernel, beside the FP32 libtorch
 * convolution of the same shape on the same input.
 */
function layerTimes(name: string, file: string, xAll: Tensor, threads: number, iters: number): LayerRow[] {
  const runtime = loadRuntime(file, { fuse: false });
  const convs = runtime.model.namedModules().filter((e): e is [string, PackedConv2d] => e[1] instanceof PackedConv2d);
  const inputs = new Map<string, { x: Tensor; residual: Tensor | null }>();
  const restore: (() => void)[] = [];
  for (const [layer, conv] of convs) {
    const fwd = conv.forward.bind(conv), add = conv.forwardAdd.bind(conv);
    conv.forward = (x: Tensor) => { inputs.set(layer, { x: x.clone().keep(), residual: null }); return fwd(x); };
    conv.forwardAdd = (x: Tensor, r: Tensor) => { inputs.set(layer, { x: x.clone().keep(), residual: r.clone().keep() }); return add(x, r); };
    restore.push(() => { conv.forward = fwd; conv.forwardAdd = add; });
  }
  try {
    scope(() => { runtime.forward(xAll); });
  } finally {
    for (const r of restore) r();
  }
  const chosen = new Map(convs.map(([n, c]) => [n, c.mode]));
  runtime.dispose();
  const byMode = new Map<KernelMode, PackedModel>();
  const out: LayerRow[] = [];
  try {
    for (const mode of KERNEL_MODES) {
      try { byMode.set(mode, loadRuntime(file, { mode, fuse: false })); } catch { /* e.g. int8 with 8-bit weights */ }
    }
    for (const [layer, conv] of convs) {
      const inp = inputs.get(layer);
      if (!inp) continue;
      const ms: Record<KernelMode | 'fp32', number | null> = { bitserial: null, int8: null, fp32: null };
      for (const [mode, m] of byMode) {
        const c = m.model.namedModules().find(([n]) => n === layer)?.[1];
        if (!(c instanceof PackedConv2d)) continue;
        ms[mode] = 1000 * timeSteps(() => scope(() => { if (inp.residual) c.forwardAdd(inp.x, inp.residual); else c.forward(inp.x); }), iters);
      }
      const w = scope(() => Tensor.randn([conv.outChannels, conv.inChannels, ...conv.geometry.kernel]).keep());
      ms.fp32 = 1000 * timeSteps(() => noGrad(() => scope(() => { F.conv2d(inp.x, w, null, { stride: conv.geometry.stride, padding: conv.geometry.padding }); })), iters);
      w.dispose();
      const [n, c, h, wd] = inp.x.shape;
      out.push({ model: name, layer, shape: `${n}x${c}x${h}x${wd}->${conv.outChannels}`, wbits: conv.wbits, abits: conv.act.bits, threads, batch: n, chosen: chosen.get(layer) ?? conv.mode, ms });
    }
  } finally {
    for (const m of byMode.values()) m.dispose();
    for (const { x, residual } of inputs.values()) { x.dispose(); residual?.dispose(); }
  }
  return out;
}

/** The ratios the goals are stated in, from one run's rows. */
export function inferRatios(b: InferBench, batch = 256, threads?: number): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const r of b.rows.filter((x) => x.batch === batch && x.runtime === 'packed' && (threads === undefined || x.threads === threads))) {
    const same = (rt: InferRuntime): InferRow | undefined => b.rows.find((x) => x.model === r.model && x.runtime === rt && x.batch === batch && x.threads === r.threads);
    const key = `${r.model} threads ${r.threads}`;
    out[key] = {};
    for (const rt of ['libtorch-fp32', 'ort-fp32', 'ort-qdq'] as InferRuntime[]) {
      const s = same(rt);
      if (s) out[key][`vs ${rt}`] = r.img_per_s / s.img_per_s;
    }
    const ls = b.layers.filter((l) => l.model === r.model && l.threads === r.threads);
    const packedMs = ls.reduce((a, l) => a + (l.ms[l.chosen] ?? 0), 0), fpMs = ls.reduce((a, l) => a + (l.ms.fp32 ?? 0), 0);
    if (ls.length && packedMs > 0) out[key]['quantized convs vs fp32 convs'] = fpMs / packedMs;
  }
  return out;
}

