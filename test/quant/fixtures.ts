// Small models and helpers shared by the quant tests.
import { Tensor, scope, noGrad } from '../../src/engine';
import { Sequential, Conv2d, ReLU, Flatten, Linear } from '../../src/nn';
import { quantize, QuantizeOptions } from '../../src/quant/quantize';

/** Copies values into a (parameter or buffer) tensor in place. */
export function setValues(t: Tensor, v: number | number[]): void {
  noGrad(() => scope(() => {
    if (typeof v === 'number') t.fill_(v);
    else t.copy_(Tensor.from(v, t.shape));
  }));
}

/**
 * conv 1×1 (2→2) → ReLU → flatten → linear (2→3), both layers quantized (the first conv and last
 * linear by request): 5 weight channels and 2 activation quantizers. Input [N, 2, 1, 1].
 */
export function tinyQuantized(o: Partial<QuantizeOptions> = {}): Sequential {
  const m = new Sequential(new Conv2d(2, 2, 1, { bias: false }), new ReLU(), new Flatten(), new Linear(2, 3, { bias: false }));
  quantize(m, { wBits: 2, aBits: 2, quantizeFirst: true, quantizeLast: true, ...o });
  return m;
}
