// The GDNSQ objective (GDNSQ.md §3): L = L_task^p + t·c·(m_w·P_w + m_a·P_a), where L_task is the
// distillation loss against the frozen FP teacher, c the running mean of L_task (it scales the
// penalty to the task loss) and t the temperature, 0 until the warm-up ends and then growing by
// lr·κ every step, so the penalty weight rises until the constraints hold (exterior point).
// With `growth: 'external'` the temperatures are left to a controller: the planned descent sets
// one for the weight group and one for the activation group (tw, ta: the penalty becomes
// c·(tw·m_w·P_w + ta·m_a·P_a)) and the penalty's targets before each step (descent-controller.ts).
// Its methods have the shapes of the trainer's hooks: loss, afterStep, state, loadState.
import { Tensor, noGrad } from '../engine';
import { Module } from '../nn';
import { DistillLoss, checkDistillLoss, distillLoss } from './distill';
import { Penalty, PenaltyOptions, BudgetPenalty, bitPenalty, checkPenaltyOptions } from './penalty';

export interface ObjectiveOptions extends PenaltyOptions {
  /** The quantized model being fine-tuned. */
  student: Module;
  /** The FP model it distils from (put in eval mode, never trained); not needed for 'labels'. */
  teacher?: Module | null;
  /** Task loss (default 'skl', symmetric KL). */
  loss?: DistillLoss;
  /** The base learning rate: t grows by lr·κ per step. */
  lr: number;
  /** Temperature growth factor κ (default 2). */
  kappa?: number;
  /** Steps before t starts growing (default 1000, the LR warm-up). */
  warmupSteps?: number;
  /** 'kappa' (default): t += lr·κ per step after the warm-up; 'external': t is set by its owner. */
  growth?: 'kappa' | 'external';
  /**
   * Data-parallel runs: the task loss of the global batch from this rank's value over its rows
   * (a rows-weighted mean across ranks), so c and the penalty scale t·c agree on every rank.
   */
  reduceTask?(value: number, rows: number): number;
}

export interface ObjectiveState { t: number; c: number; count: number; tw?: number; ta?: number }

export interface ObjectiveLoss { loss: Tensor; logits: Tensor; task: Tensor; penalty: Penalty }

export class GdnsqObjective {
  /** Temperature t (growth 'kappa'), or the group temperatures tw, ta (growth 'external'). */
  t = 0;
  tw = 0;
  ta = 0;
  /** Running mean c of the task loss, over `count` steps. */
  c = 0;
  count = 0;
  readonly lossName: DistillLoss;
  private readonly student: Module;
  private readonly teacher: Module | null;
  private readonly lr: number;
  private readonly kappa: number;
  /** Steps before t starts growing (kappa schedule); the recipe sets it from the run's plan. */
  warmupSteps: number;
  private readonly penaltyOptions: { eps: number; p: number };
  private readonly growth: 'kappa' | 'external';
  /** The bit-width each quantizer is held to now (planned descent); default its target. */
  targetOf: PenaltyOptions['targetOf'];
  private readonly reduceTask: ((value: number, rows: number) => number) | undefined;
  /** A mean bit-width budget (penalty.ts BudgetPenalty); its offsets are updated by its owner. */
  budget: BudgetPenalty | undefined;
  private last = { task: 0, pw: 0, pa: 0, lagW: 0, lagA: 0, layerLags: [] as number[] };

  constructor(o: ObjectiveOptions) {
    this.lossName = checkDistillLoss(o.loss ?? 'skl');
    this.student = o.student;
    this.teacher = o.teacher ?? null;
    if (this.lossName !== 'labels' && !this.teacher) throw new Error(`GdnsqObjective: loss '${this.lossName}' needs a teacher model`);
    if (this.teacher === this.student) throw new Error('GdnsqObjective: the teacher must be a separate (FP) model');
    this.teacher?.eval();
    this.lr = o.lr;
    this.kappa = o.kappa ?? 2;
    this.warmupSteps = o.warmupSteps ?? 1000;
    if (!(this.lr > 0 && Number.isFinite(this.lr))) throw new Error(`GdnsqObjective: lr must be a positive number, got ${o.lr}`);
    if (!(this.kappa >= 0 && Number.isFinite(this.kappa))) throw new Error(`GdnsqObjective: kappa must be a finite number ≥ 0, got ${o.kappa}`);
    if (!(Number.isInteger(this.warmupSteps) && this.warmupSteps >= 0)) throw new Error(`GdnsqObjective: warmupSteps must be an integer ≥ 0, got ${o.warmupSteps}`);
    this.penaltyOptions = checkPenaltyOptions(o);
    this.growth = o.growth ?? 'kappa';
    this.targetOf = o.targetOf;
    this.reduceTask = o.reduceTask;
    this.budget = o.budget;
  }

  /** What the last loss() measured: task loss, P_w, P_a, the worst lags B − target (bits) per group and per quantized layer. */
  get measured(): { task: number; pw: number; pa: number; lagW: number; lagA: number; layerLags: number[] } { return { ...this.last }; }

  /** The objective of one batch (student in training mode, autograd on); updates c. */
  loss(batch: { x: Tensor; y: Tensor }): ObjectiveLoss {
    const logits = this.student.forward(batch.x);
    let teacherLogits: Tensor | null = null;
    if (this.teacher && this.lossName !== 'labels') {
      if (this.teacher.training) this.teacher.eval();
      const teacher = this.teacher;
      teacherLogits = noGrad(() => teacher.forward(batch.x));
    }
    const task = distillLoss(this.lossName, logits, teacherLogits, batch.y);
    const taskValue = this.reduceTask ? this.reduceTask(task.item(), batch.y.shape[0]) : task.item();
    this.count++;
    this.c += (taskValue - this.c) / this.count;
    const penalty = bitPenalty(this.student, { ...this.penaltyOptions, targetOf: this.targetOf, budget: this.budget });
    const p = this.penaltyOptions.p;
    const base = p === 1 ? task : task.pow(p);
    let loss = base;
    if (this.growth === 'kappa' && this.t > 0) loss = base.add(penalty.value.mul(this.t * this.c));
    else if (this.growth === 'external' && (this.tw > 0 || this.ta > 0)) {
      loss = base.add(penalty.mw.mul(penalty.pw).mul(this.tw * this.c).add(penalty.ma.mul(penalty.pa).mul(this.ta * this.c)));
    }
    this.last = { task: taskValue, pw: penalty.pw.item(), pa: penalty.pa.item(), lagW: penalty.lagW.item(), lagA: penalty.lagA.item(), layerLags: penalty.layerLags.toArray() };
    return { loss, logits, task, penalty };
  }

  /** After optimizer step number `step` (1-based): t grows once the warm-up is over. */
  afterStep(step: number): Record<string, number> {
    if (this.growth === 'kappa' && step > this.warmupSteps) this.t += this.lr * this.kappa;
    return { t: this.t, task: this.last.task, pw: this.last.pw, pa: this.last.pa };
  }

  state(): ObjectiveState { return { t: this.t, c: this.c, count: this.count, tw: this.tw, ta: this.ta }; }

  loadState(s: unknown): void {
    const st = s as Partial<ObjectiveState> | null;
    if (!st || typeof st.t !== 'number' || typeof st.c !== 'number' || typeof st.count !== 'number') {
      throw new Error('GdnsqObjective.loadState: expected {t, c, count} numbers');
    }
    this.t = st.t;
    this.c = st.c;
    this.count = st.count;
    this.tw = st.tw ?? 0;
    this.ta = st.ta ?? 0;
  }
}
