// A run folder as the report sees it: the records of metrics.jsonl split into step and epoch
// records, and summary.json when the run has finished. Reads files only; the record shapes are
// the ones cli/train.ts, cli/quantize.ts and train/trainer.ts write.
import * as fs from 'fs';
import * as path from 'path';
import { MetricsLog } from '../train/metrics-log';

/** One quantizer's bit-widths as logged: target, differentiable and true (log2 of levels used). */
export interface LayerBits {
  target: number; bits: number; true: number;
  /** Widest channel's differentiable bits (absent: one channel, or older logs). */
  max?: number;
  /** Narrowest channel's true bits (absent: the same as true, or older logs). */
  true_min?: number;
}

/** `kind:"step"` records of quantize runs (every --log-every steps). */
export interface StepRecord { step: number; loss?: number; t?: number; tw?: number; ta?: number; pw?: number; pa?: number; lr?: number; layers?: Record<string, LayerBits> }

/** Epoch records of both run kinds; quantize runs add `kind:"epoch"`, convergence and layers. */
export interface EpochRecord {
  epoch: number; step: number; seconds?: number; train_loss?: number; train_top1?: number; val_loss?: number; val_top1?: number;
  t?: number; converged?: boolean; w_true_max?: number; a_true_max?: number; layers?: Record<string, LayerBits>;
}

/** summary.json of either kind; which fields are present tells the kind. */
export interface Summary {
  // quantize runs
  teacher?: string | { file: string; sha256: string } | null; schedule?: string; planned_step?: number | null; reached_step?: number | null;
  holds?: number; wbits?: number; abits?: number; method?: string; loss?: string; fp_top1?: number; quant_top1?: number;
  delta_pt?: number; converged?: boolean; wbits_max?: number; abits_max?: number; wbits_min?: number; abits_min?: number; steps?: number; wall_seconds?: number;
  settings?: Record<string, unknown>; mean_bits?: { w: number; a: number; budget: { wBits?: number; aBits?: number; maxBits?: number } | null }; fp_layers?: { name: string; reason: string }[]; layers?: Record<string, LayerBits>;
  // train runs
  model?: string; best_epoch?: number; val_top1?: number; test_top1?: number; test_top5?: number; test_loss?: number; train_seconds?: number;
  // both
  dataset?: string; epochs_run?: number; checkpoint?: string;
}

export interface Run {
  dir: string;
  kind: 'quantize' | 'train';
  steps: StepRecord[];
  epochs: EpochRecord[];
  /** Absent while the run has not finished (or was interrupted). */
  summary?: Summary;
}

export function readRun(dir: string): Run {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new Error(`run folder not found: ${dir}`);
  const file = path.join(dir, 'metrics.jsonl');
  if (!fs.existsSync(file)) throw new Error(`${dir} has no metrics.jsonl: not a gdnsq run folder`);
  return readRunFiles(file, path.join(dir, 'summary.json'), dir);
}

/** A run from its metrics file and (when it exists) its summary file, e.g. copies kept under other names. */
export function readRunFiles(file: string, sfile: string, dir = path.dirname(file)): Run {
  if (!fs.existsSync(file)) throw new Error(`metrics file not found: ${file}`);
  const records = MetricsLog.read(file);
  if (!records.length) throw new Error(`${file} holds no records yet`);
  const steps: StepRecord[] = [];
  const epochs: EpochRecord[] = [];
  records.forEach((r, i) => {
    if (typeof r !== 'object' || r === null || typeof r.step !== 'number') throw new Error(`${file}: record ${i + 1} has no numeric "step"`);
    if (r.kind === 'step') steps.push(r as unknown as StepRecord);
    else if (typeof r.epoch === 'number') epochs.push(r as unknown as EpochRecord);
    else throw new Error(`${file}: record ${i + 1} is neither a step nor an epoch record`);
  });
  let summary: Summary | undefined;
  if (fs.existsSync(sfile)) {
    try { summary = JSON.parse(fs.readFileSync(sfile, 'utf8')) as Summary; } catch { throw new Error(`${sfile} is not JSON`); }
  }
  const quantized = records.some((r) => r.kind === 'step' || r.kind === 'epoch') || summary?.wbits !== undefined;
  return { dir, kind: quantized ? 'quantize' : 'train', steps, epochs, summary };
}

/** Splits `layer1.0.conv1.weight_quant` into its layer and role (weight, bias, act). */
export function quantizerRole(name: string): { layer: string; role: string } {
  const m = /^(.*)\.([a-z]+)_quant$/.exec(name);
  return m ? { layer: m[1], role: m[2] } : { layer: name, role: 'weight' };
}
