// One training loop for FP training and GDNSQ fine-tuning. What differs between them comes in
// as hooks: the loss of a batch, what happens after a step and after an epoch, the selection
// metric, and extra state to checkpoint. The loop owns epochs, evaluation, progress, metrics,
// atomic checkpoints, resume, early stopping and Ctrl-C.
import * as fs from 'fs';
import * as path from 'path';
import { Tensor, manualSeed, noGrad, scope, getRngState, setRngState } from '../engine';
import { Batch, Classifier, EvalResult, evaluate, topkCorrect } from './evaluate';
import { ModelCard, saveModelFile, saveTrainingState, loadTrainingState } from './checkpoint';
import { MetricsLog } from './metrics-log';
import { Progress } from './progress';
import { DataParallel } from '../distributed';

export interface TrainableModel extends Classifier {
  parameters(): Tensor[];
  stateDict(): Record<string, Tensor>;
  loadStateDict(sd: Record<string, Tensor>, opts?: { strict?: boolean }): unknown;
}

export interface OptimizerLike {
  step(): void;
  zeroGrad(): void;
  paramGroups: { lr: number }[];
  stateDict(): { state: Record<string, Tensor>; meta: unknown };
  loadStateDict(sd: { state: Record<string, Tensor>; meta: unknown }): void;
}

export interface EpochSource {
  batchesPerEpoch: number;
  epoch(e: number): Iterable<Batch>;
}

export interface EpochSummary { epoch: number; step: number; train: { loss: number; top1: number }; val?: EvalResult; lr: number; seconds: number }

export interface TrainerHooks {
  /** Loss of one batch in training mode (autograd on). */
  loss(batch: Batch, step: number): { loss: Tensor; logits: Tensor };
  /** After each optimizer step; returned values are shown in the progress line. */
  afterStep?(step: number): Record<string, number | string> | void;
  /** After each epoch's evaluation; may add fields to the metrics record or stop training. */
  afterEpoch?(s: EpochSummary): { record?: Record<string, unknown>; stop?: boolean } | void;
  /** Selection metric (higher is better); default: validation top-1. */
  metric?(s: EpochSummary): number;
  /**
   * Whether this epoch counts towards early stopping when it does not improve the metric
   * (default true). GDNSQ counts only from the first converged epoch (the reference's rule):
   * before it the noise-aware metric is 0 and a plateau there says nothing.
   */
  patienceActive?(s: EpochSummary): boolean;
  /** LR multiplier for a step (applied to every group's base LR); default 1. */
  /** LR factor of param group `group` at 0-based step `step` (groups may follow schedules of their own). */
  lrFactor?(step: number, group: number): number;
  state?(): unknown;
  loadState?(s: unknown): void;
}

export interface TrainerOptions {
  model: TrainableModel;
  optimizer: OptimizerLike;
  hooks: TrainerHooks;
  train: EpochSource;
  val?: EpochSource;
  epochs: number;
  outDir: string;
  card: ModelCard;
  seed?: number;
  patience?: number;
  progress?: boolean;
  title?: string;
  /** Data-parallel run: gradients averaged across ranks, rank 0 alone writes (see src/distributed). */
  dist?: DataParallel | null;
  /** Also save the resume state every this many steps (a crash then loses at most that many). */
  saveEvery?: number;
  /**
   * Metrics within this of the best count as a tie, which the lower validation loss (training
   * loss without validation) breaks; default 0: a later epoch must be strictly better.
   */
  selectTolerance?: number;
}

interface LoopState {
  epoch: number;          // epoch in progress (0-based)
  batchInEpoch: number;   // batches of it already done
  step: number;           // optimizer steps so far
  best: number;
  bestEpoch: number;
  /** The loss of the best epoch (the tie-break of selectTolerance). */
  bestLoss?: number;
  sinceBest: number;
  hooks?: unknown;
  seconds: number;
  done?: boolean;
  /** The epoch in progress's training sums so far (a state saved mid-epoch). */
  partial?: { lossSum: number; correct: number; seen: number };
}

export interface FitResult { state: LoopState; interrupted: boolean; best: number; bestEpoch: number }

export class Trainer {
  private s: LoopState = { epoch: 0, batchInEpoch: 0, step: 0, best: -Infinity, bestEpoch: -1, sinceBest: 0, seconds: 0 };
  private readonly baseLrs: number[];
  private readonly log: MetricsLog;
  private interrupted = false;
  private rngRestored = false;
  private readonly main: boolean;

  constructor(private readonly o: TrainerOptions) {
    this.main = !o.dist || o.dist.isMain;
    if (o.saveEvery !== undefined && !(Number.isInteger(o.saveEvery) && o.saveEvery >= 1)) throw new Error(`Trainer: saveEvery must be a positive integer, got ${o.saveEvery}`);
    fs.mkdirSync(o.outDir, { recursive: true });
    this.baseLrs = o.optimizer.paramGroups.map((g) => g.lr);
    this.log = new MetricsLog(path.join(o.outDir, 'metrics.jsonl'));
  }

  get resumePath(): string { return path.join(this.o.outDir, 'resume.safetensors'); }
  get bestPath(): string { return path.join(this.o.outDir, 'best.safetensors'); }
  get lastPath(): string { return path.join(this.o.outDir, 'last.safetensors'); }
  get state(): Readonly<LoopState> { return this.s; }

  /** Restores model, optimizer, loop and hook state from outDir/resume.safetensors. */
  resume(): void {
    const st = loadTrainingState<LoopState>(this.resumePath);
    noGrad(() => this.o.model.loadStateDict(st.model, { strict: true }));
    const meta = (st.trainer as LoopState & { optimMeta?: unknown }).optimMeta;
    this.o.optimizer.loadStateDict({ state: st.optim, meta });
    if (st.rng) {
      setRngState(st.rng);
      this.rngRestored = true;
    }
    for (const t of [...Object.values(st.model), ...Object.values(st.optim), ...(st.rng ? [st.rng] : [])]) t.dispose();
    this.s = { ...st.trainer };
    if (this.s.hooks !== undefined) this.o.hooks.loadState?.(this.s.hooks);
  }

  private saveResume(): void {
    this.s.hooks = this.o.hooks.state?.();
    if (!this.main) return;
    const opt = this.o.optimizer.stateDict();
    scope(() => saveTrainingState(this.resumePath, {
      model: this.o.model.stateDict(), optim: opt.state, rng: getRngState(), card: this.o.card,
      trainer: { ...this.s, optimMeta: opt.meta },
    }));
  }

  private setLr(step: number): number {
    const f = (i: number): number => this.o.hooks.lrFactor?.(step, i) ?? 1;
    this.o.optimizer.paramGroups.forEach((g, i) => { g.lr = this.baseLrs[i] * f(i); });
    return this.o.optimizer.paramGroups[0]?.lr ?? 0;
  }

  async fit(): Promise<FitResult> {
    const onSigint = (): void => { this.interrupted = true; };
    process.once('SIGINT', onSigint);
    try {
      // Every rank starts from rank 0's weights (also after a resume: they read the same file).
      this.o.dist?.syncTensors(Object.values(this.o.model.stateDict()));
      while (this.s.epoch < this.o.epochs && !this.s.done) {
        const summary = await this.runEpoch();
        if (summary === null) {
          this.saveResume();
          if (this.main) process.stderr.write(`interrupted: state saved to ${this.resumePath}; continue with --resume ${this.o.outDir}\n`);
          return { state: this.s, interrupted: true, best: this.s.best, bestEpoch: this.s.bestEpoch };
        }
        this.endEpoch(summary);
        this.saveResume();
        this.agree();
      }
      return { state: this.s, interrupted: false, best: this.s.best, bestEpoch: this.s.bestEpoch };
    } finally {
      process.removeListener('SIGINT', onSigint);
    }
  }

  /** Runs (the rest of) the current epoch; null when interrupted. */
  private async runEpoch(): Promise<EpochSummary | null> {
    const { model, optimizer, hooks, train } = this.o;
    const e = this.s.epoch;
    const skip = this.s.batchInEpoch;
    // Each epoch starts from a seed of its own; a run resumed mid-epoch instead continues the
    // exact generator stream it saved, so resuming anywhere reproduces the uninterrupted run.
    if (skip === 0 || !this.rngRestored) manualSeed(((this.o.seed ?? 0) * 1000003 + e * 7919) >>> 0);
    this.rngRestored = false;
    const dist = this.o.dist;
    const bar = new Progress({ title: `${this.o.title ?? 'train'} epoch ${e + 1}/${this.o.epochs}`, total: train.batchesPerEpoch, enabled: this.o.progress !== false && this.main });
    const t0 = Date.now();
    // A state saved mid-epoch holds the sums of all ranks: rank 0 carries them on.
    let { lossSum, correct, seen } = (skip > 0 && this.main && this.s.partial) || { lossSum: 0, correct: 0, seen: 0 };
    const partial = (): LoopState['partial'] => {
      if (!dist) return { lossSum, correct, seen };
      const [l, c, n] = dist.sum([lossSum, correct, seen]);
      return { lossSum: l, correct: c, seen: n };
    };
    let lr = 0, stop = false;
    model.train(true);
    const it = train.epoch(e)[Symbol.iterator]();
    for (let i = 0; i < skip; i++) {
      const r = it.next();
      if (r.done) break;
      r.value.x.dispose();
      r.value.y.dispose();
    }
    for (;;) {
      const done = scope(() => {
        const r = it.next();
        if (r.done) return true;
        const b = r.value;
        lr = this.setLr(this.s.step);
        const { loss, logits } = hooks.loss(b, this.s.step);
        optimizer.zeroGrad();
        loss.backward();
        // All ranks learn of a Ctrl-C in the same step's all-reduce, so they stop together.
        if (dist) stop = dist.averageGradients(model.parameters(), b, this.interrupted);
        optimizer.step();
        this.s.step++;
        this.s.batchInEpoch++;
        const l = loss.item();
        if (!Number.isFinite(l)) throw new Error(`training diverged: loss is ${l} at step ${this.s.step}`);
        lossSum += l * b.size;
        correct += topkCorrect(logits, b.y, 1);
        seen += b.size;
        const extra = hooks.afterStep?.(this.s.step) ?? {};
        bar.update(this.s.batchInEpoch, { loss: lossSum / seen, acc: correct / seen, lr, ...extra });
        if (this.o.saveEvery && this.s.step % this.o.saveEvery === 0 && this.s.batchInEpoch < train.batchesPerEpoch) {
          this.s.partial = partial();
          this.saveResume();
        }
        return false;
      });
      if (done) break;
      // Yield to the event loop so Ctrl-C (SIGINT) is delivered between steps.
      await new Promise((r) => setImmediate(r));
      if (dist ? stop : this.interrupted) {
        this.interrupted = true;
        this.s.partial = partial();
        bar.stop();
        return null;
      }
    }
    bar.stop();
    const seconds = (Date.now() - t0) / 1000;
    this.s.seconds += seconds;
    this.s.partial = undefined;
    if (dist) {
      // Each rank's BN statistics saw its shard only: evaluate (and save) their average.
      dist.averageBatchNorm(model.stateDict());
      [lossSum, correct, seen] = dist.sum([lossSum, correct, seen]);
    }
    let val = this.o.val ? evaluate(model, this.o.val.epoch(0)) : undefined;
    // Every rank evaluated the same model on the same images; rank 0's result decides.
    if (dist && val) val = dist.broadcastJson(val);
    return { epoch: e, step: this.s.step, train: { loss: lossSum / Math.max(1, seen), top1: correct / Math.max(1, seen) }, val, lr, seconds };
  }

  private endEpoch(sm: EpochSummary): void {
    const extra = this.o.hooks.afterEpoch?.(sm) ?? {};
    const metric = this.o.hooks.metric ? this.o.hooks.metric(sm) : sm.val?.top1 ?? sm.train.top1;
    // Ties keep the earlier checkpoint unless a tolerance is set: then a metric within it of the
    // best (on a small validation set, one image either way) is a tie the lower loss breaks.
    const tol = this.o.selectTolerance ?? 0;
    const loss = sm.val?.loss ?? sm.train.loss;
    const improved = metric > this.s.best + tol || (tol > 0 && metric >= this.s.best - tol && loss < (this.s.bestLoss ?? Infinity));
    if (improved) {
      this.s.best = metric;
      this.s.bestEpoch = sm.epoch;
      this.s.bestLoss = loss;
      this.s.sinceBest = 0;
    } else if (this.o.hooks.patienceActive?.(sm) ?? true) this.s.sinceBest++;
    const record = {
      epoch: sm.epoch + 1, step: sm.step, lr: sm.lr, seconds: sm.seconds,
      train_loss: sm.train.loss, train_top1: sm.train.top1,
      val_loss: sm.val?.loss, val_top1: sm.val?.top1, val_top5: sm.val?.top5,
      metric, best: this.s.best, ...(extra.record ?? {}),
    };
    const card = { ...this.o.card, epoch: sm.epoch + 1, step: sm.step, val_top1: sm.val?.top1, metric };
    if (this.main) {
      this.log.write(record);
      saveModelFile(this.lastPath, this.o.model.stateDict(), card);
      if (improved) saveModelFile(this.bestPath, this.o.model.stateDict(), card);
    }
    if (this.o.progress !== false && this.main) {
      process.stderr.write(`epoch ${sm.epoch + 1}: train loss ${sm.train.loss.toFixed(4)} acc ${(100 * sm.train.top1).toFixed(2)}%` +
        (sm.val ? ` | val loss ${sm.val.loss.toFixed(4)} top1 ${(100 * sm.val.top1).toFixed(2)}%` : '') +
        ` | ${sm.seconds.toFixed(1)}s${improved ? ' | best' : ''}\n`);
    }
    this.s.epoch++;
    this.s.batchInEpoch = 0;
    if (extra.stop || (this.o.patience !== undefined && this.s.sinceBest >= this.o.patience)) this.s.done = true;
  }

  /**
   * After an epoch every rank holds the same loop and hook state when it depends only on averaged
   * quantities; decisions taken on anything else (timings, a rank-local measurement) would drift
   * apart, so rank 0's state is taken by all.
   */
  private agree(): void {
    const dist = this.o.dist;
    if (!dist) return;
    const x = dist.broadcastJson({ s: this.s, hooks: this.s.hooks ?? null });
    if (this.main) return;
    this.s = x.s;
    if (x.hooks !== null) this.o.hooks.loadState?.(x.hooks);
  }
}
