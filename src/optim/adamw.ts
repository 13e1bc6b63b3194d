// AdamW (Loshchilov & Hutter): Adam whose weight decay multiplies the parameter by (1 − lr·wd)
// before the moment update, with PyTorch 1.13's semantics (torch/optim/adamw.py).
import { Adam, AdamHyper, AdamOptions } from './adam';
import { Params } from './optimizer';

export class AdamW extends Adam {
  /** weightDecay defaults to 1e-2 here, as in PyTorch. */
  constructor(params: Params<AdamHyper>, options: AdamOptions = {}) {
    super(params, { ...options, weightDecay: options.weightDecay ?? 1e-2 });
  }

  protected override decoupled(): boolean {
    return true;
  }
}
