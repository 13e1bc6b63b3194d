// Stochastic gradient descent with momentum, dampening, Nesterov and L2 weight decay, with
// PyTorch 1.13's semantics (torch/optim/sgd.py, _single_tensor_sgd): the momentum buffer
// starts as a copy of the first gradient, undamped.
import { Tensor } from '../engine';
import { Optimizer, GroupHyper, ParamGroup, ParamState, Params, addScaled, checkRange, withDefaults } from './optimizer';

export interface SGDHyper extends GroupHyper {
  momentum: number;
  dampening: number;
  nesterov: boolean;
  /** L2 penalty added to the gradient. */
  weightDecay: number;
}
export type SGDOptions = Pick<SGDHyper, 'lr'> & Partial<SGDHyper>;

export class SGD extends Optimizer<SGDHyper> {
  constructor(params: Params<SGDHyper>, options: SGDOptions) {
    super(params, withDefaults<SGDHyper>({ lr: options.lr, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0 }, options));
  }

  protected validate(h: SGDHyper, where: string): void {
    checkRange(where, 'lr', h.lr, 0);
    checkRange(where, 'momentum', h.momentum, 0);
    checkRange(where, 'dampening', h.dampening, 0, 1);
    checkRange(where, 'weightDecay', h.weightDecay, 0);
    if (typeof h.nesterov !== 'boolean') throw new Error(`${where}: nesterov must be a boolean, got ${String(h.nesterov)}`);
    if (h.nesterov && (h.momentum <= 0 || h.dampening !== 0)) throw new Error(`${where}: Nesterov momentum requires a momentum and zero dampening`);
  }

  protected stateKeys(h: SGDHyper): readonly string[] {
    return h.momentum !== 0 ? ['momentum_buffer'] : [];
  }

  protected update(p: Tensor, grad: Tensor, h: ParamGroup<SGDHyper>, state: ParamState): void {
    let d = h.weightDecay !== 0 ? addScaled(grad, p, h.weightDecay) : grad;
    if (h.momentum !== 0) {
      let buf = state.buffers.momentum_buffer;
      if (buf === undefined) buf = this.buffer(state, 'momentum_buffer', () => d.clone());
      else buf.mul_(h.momentum).add_(d, 1 - h.dampening);
      d = h.nesterov ? addScaled(d, buf, h.momentum) : buf;
    }
    p.add_(d, -h.lr);
  }
}
