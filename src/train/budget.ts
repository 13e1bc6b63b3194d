// Epochs that fit a wall-clock budget, from a timed probe of the real training step (forward,
// teacher, objective, backward) on the first batches. The probe leaves no trace: the student's
// state (BatchNorm statistics), gradients, the objective's running mean and the generator are
// restored afterwards, so a run with a time budget trains exactly as one given those epochs.
import { Tensor, scope, getRngState, setRngState, noGrad } from '../engine';
import { Batch } from '../data';
import { Model } from '../models';
import { GdnsqObjective } from '../quant';
import { BudgetError } from '../quant';

export interface ProbeOptions {
  student: Model;
  objective: GdnsqObjective;
  /** A BatchLoader, or a rank's ShardedLoader. */
  loader: { batchesPerEpoch: number; batch(epoch: number, index: number): Batch };
  batchSize: number;
  /** Validation images evaluated at every epoch end. */
  valImages: number;
  budgetMin: number;
  /** Timed steps (default 3, after one untimed). */
  steps?: number;
}

export function probeEpochs(o: ProbeOptions): { epochs: number; epochSeconds: number; stepSeconds: number } {
  if (!(o.budgetMin > 0 && Number.isFinite(o.budgetMin))) throw new Error(`time budget must be a positive number of minutes, got ${o.budgetMin}`);
  const steps = o.steps ?? 3;
  const saved = scope(() => Object.fromEntries(Object.entries(o.student.stateDict()).map(([k, t]) => [k, t.clone().keep()])));
  const objState = o.objective.state();
  const rng = getRngState().keep();
  const wasTraining = o.student.training;
  o.student.train(true);
  let seconds = 0;
  try {
    for (let i = 0; i <= steps; i++) {
      const t = process.hrtime.bigint();
      scope(() => {
        const b = o.loader.batch(0, i % o.loader.batchesPerEpoch);
        o.objective.loss(b).loss.backward();
      });
      if (i > 0) seconds += Number(process.hrtime.bigint() - t) / 1e9;
    }
  } finally {
    for (const p of o.student.parameters()) p.zeroGrad();
    noGrad(() => o.student.loadStateDict(saved, { strict: true }));
    for (const t of Object.values(saved) as Tensor[]) t.dispose();
    o.objective.loadState(objState);
    setRngState(rng);
    rng.dispose();
    o.student.train(wasTraining);
  }
  const stepSeconds = seconds / steps;
  // The optimizer step and the epoch's evaluation (a forward pass, ~1/3 of a training step per image).
  const epochSeconds = stepSeconds * 1.1 * o.loader.batchesPerEpoch + (stepSeconds / 3) * (o.valImages / o.batchSize);
  const epochs = Math.floor((o.budgetMin * 60) / epochSeconds);
  if (epochs < 1) {
    throw new BudgetError(`time budget too short: one epoch takes ~${epochSeconds.toFixed(0)} s here, the budget is ${(o.budgetMin * 60).toFixed(0)} s`);
  }
  return { epochs, epochSeconds, stepSeconds };
}
