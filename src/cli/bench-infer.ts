// `gdnsq bench infer`: argument checks and printing around bench/infer.ts.
import * as path from 'path';
import { packageRoot } from '../engine/native';
import { benchInfer, inferRatios, quantizedModels, InferBench } from '../../bench/infer';

interface Opts { checkpoint?: string; threads: string; batch: string; iters: number; ort: boolean; layers: boolean; dataDir?: string; json?: boolean }

function list(flag: string, v: string): number[] {
  const xs = v.split(',').map((s) => Number(s.trim()));
  if (!xs.length || xs.some((x) => !Number.isInteger(x) || x < 1)) throw new Error(`${flag} must be a comma-separated list of positive integers, got '${v}'`);
  return xs;
}

export async function runBenchInfer(o: Opts): Promise<InferBench> {
  const threads = list('--threads', o.threads), batches = list('--batch', o.batch);
  const checkpoints = o.checkpoint ? [o.checkpoint] : quantizedModels(path.join(packageRoot, 'models'));
  if (!checkpoints.length) throw new Error('bench infer: no quantized model under models/ (give one with --checkpoint)');
  const res = await benchInfer({ checkpoints, threads, batches, iters: o.iters, ort: o.ort, layers: o.layers, dataDir: o.dataDir, log: o.json ? undefined : (l) => console.log(l) });
  if (o.json) {
    console.log(JSON.stringify({ ...res, ratios: inferRatios(res) }));
    return res;
  }
  for (const l of res.layers) {
    const f = (v: number | null): string => (v === null ? '   –  ' : v.toFixed(2).padStart(6));
    console.log(`${l.model} threads ${l.threads} ${l.layer.padEnd(16)} ${l.shape.padEnd(20)} W${l.wbits}A${l.abits} bitserial ${f(l.ms.bitserial)} ms  int8 ${f(l.ms.int8)} ms  fp32 ${f(l.ms.fp32)} ms  (runs ${l.chosen})`);
  }
  for (const [k, r] of Object.entries(inferRatios(res))) {
    console.log(`${k}, batch 256: ${Object.entries(r).map(([n, v]) => `${v.toFixed(2)}x ${n}`).join(', ')}`);
  }
  for (const n of res.notes) console.log(`note: ${n}`);
  return res;
}
