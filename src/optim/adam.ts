// Adam with L2 weight decay added to the gradient, with PyTorch 1.13's semantics
// (torch/optim/adam.py, _single_tensor_adam, amsgrad off). AdamW reuses it with decoupled decay.
import { Tensor } from '../engine';
import { Optimizer, GroupHyper, ParamGroup, ParamState, Params, addScaled, checkRange, withDefaults } from './optimizer';

export interface AdamHyper extends GroupHyper {
  betas: [number, number];
  eps: number;
  weightDecay: number;
}
export type AdamOptions = Partial<AdamHyper>;

export const ADAM_DEFAULTS: AdamHyper = { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 };

/** The checks PyTorch makes on Adam-family hyper-parameters. */
export function validateAdamHyper(h: AdamHyper, where: string): void {
  checkRange(where, 'lr', h.lr, 0);
  checkRange(where, 'eps', h.eps, 0);
  if (!Array.isArray(h.betas) || h.betas.length !== 2) throw new Error(`${where}: betas must be [beta1, beta2], got ${JSON.stringify(h.betas)}`);
  checkRange(where, 'betas[0]', h.betas[0], 0, 1, true);
  checkRange(where, 'betas[1]', h.betas[1], 0, 1, true);
  checkRange(where, 'weightDecay', h.weightDecay, 0);
}

/** exp_avg ← β1·exp_avg + (1−β1)·g and exp_avg_sq ← β2·exp_avg_sq + (1−β2)·g², as PyTorch 1.13 writes them. */
export function updateMoments(m: Tensor, v: Tensor, grad: Tensor, [b1, b2]: [number, number]): void {
  m.mul_(b1).add_(grad, 1 - b1);
  v.mul_(b2).addcmul_(grad, grad, 1 - b2);
}

export class Adam extends Optimizer<AdamHyper> {
  constructor(params: Params<AdamHyper>, options: AdamOptions = {}) {
    super(params, withDefaults(ADAM_DEFAULTS, options));
  }

  /** AdamW: weight decay shrinks the parameter instead of joining the gradient. */
  protected decoupled(): boolean {
    return false;
  }

  protected validate(h: AdamHyper, where: string): void {
    validateAdamHyper(h, where);
  }

  protected stateKeys(): readonly string[] {
    return ['exp_avg', 'exp_avg_sq'];
  }

  protected update(p: Tensor, grad: Tensor, h: ParamGroup<AdamHyper>, state: ParamState): void {
    if (this.decoupled()) p.mul_(1 - h.lr * h.weightDecay);
    else if (h.weightDecay !== 0) grad = addScaled(grad, p, h.weightDecay);
    const m = this.buffer(state, 'exp_avg', () => Tensor.zerosLike(p));
    const v = this.buffer(state, 'exp_avg_sq', () => Tensor.zerosLike(p));
    updateMoments(m, v, grad, h.betas);
    const biasCorrection1 = 1 - h.betas[0] ** state.step;
    const biasCorrection2 = 1 - h.betas[1] ** state.step;
    const denom = v.sqrt().div(Math.sqrt(biasCorrection2)).add_(h.eps);
    p.addcdiv_(m, denom, -(h.lr / biasCorrection1));
  }
}
