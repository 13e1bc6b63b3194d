// Rectified Adam (Liu et al. 2019) with PyTorch 1.13's semantics (torch/optim/radam.py,
// _single_tensor_radam): while the approximated SMA length rho_t is ≤ 5 the variance of the
// adaptive rate is intractable and the step is plain bias-corrected momentum; afterwards the
// Adam step is scaled by the rectification term. GDNSQ fine-tunes with it (GDNSQ.md §4).
import { Tensor } from '../engine';
import { Optimizer, ParamGroup, ParamState, Params, addScaled, withDefaults } from './optimizer';
import { ADAM_DEFAULTS, AdamHyper, AdamOptions, updateMoments, validateAdamHyper } from './adam';

export type RAdamHyper = AdamHyper;
export type RAdamOptions = AdamOptions;

/**
 * The rectification factor RAdam scales its adaptive step by at step t (1-based; 0 while the
 * step is plain momentum): about 0.2 at step 100, 0.5 at 500, 0.65 at 1000 for β2 = 0.999.
 * Planning code uses it to know how far parameters can move in the first steps.
 */
export function radamRectification(t: number, b2 = 0.999): number {
  const rhoInf = 2 / (1 - b2) - 1;
  const rhoT = rhoInf - (2 * t * b2 ** t) / (1 - b2 ** t);
  return rhoT > 5 ? Math.sqrt(((rhoT - 4) * (rhoT - 2) * rhoInf) / ((rhoInf - 4) * (rhoInf - 2) * rhoT)) : 0;
}

export class RAdam extends Optimizer<RAdamHyper> {
  constructor(params: Params<RAdamHyper>, options: RAdamOptions = {}) {
    super(params, withDefaults(ADAM_DEFAULTS, options));
  }

  protected validate(h: RAdamHyper, where: string): void {
    validateAdamHyper(h, where);
  }

  protected stateKeys(): readonly string[] {
    return ['exp_avg', 'exp_avg_sq'];
  }

  protected update(p: Tensor, grad: Tensor, h: ParamGroup<RAdamHyper>, state: ParamState): void {
    const [b1, b2] = h.betas;
    const t = state.step;
    if (h.weightDecay !== 0) grad = addScaled(grad, p, h.weightDecay);
    const m = this.buffer(state, 'exp_avg', () => Tensor.zerosLike(p));
    const v = this.buffer(state, 'exp_avg_sq', () => Tensor.zerosLike(p));
    updateMoments(m, v, grad, h.betas);
    const biasCorrection1 = 1 - b1 ** t;
    const biasCorrection2 = 1 - b2 ** t;
    const mHat = m.div(biasCorrection1);
    const rhoInf = 2 / (1 - b2) - 1;
    const rhoT = rhoInf - (2 * t * b2 ** t) / biasCorrection2;
    if (rhoT > 5) {
      const rect = radamRectification(t, b2);
      // Python's `float / tensor` is `tensor.reciprocal() * float`; same order, same rounding.
      const adaptiveLr = v.sqrt().add_(h.eps).reciprocal().mul(Math.sqrt(biasCorrection2));
      p.add_(mHat.mul(h.lr).mul(adaptiveLr).mul(rect), -1);
    } else {
      p.add_(mHat.mul(h.lr), -1);
    }
  }
}
