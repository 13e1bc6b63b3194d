// Shared by the optimizer tests: parameters, prescribed gradients, and reference trajectories
// produced offline by PyTorch 1.13.1 (Debian python3-torch, CPU, float32, single-tensor path):
//   p = torch.tensor(P0, requires_grad=True); opt = torch.optim.X([p], ...)
//   for s in range(steps): p.grad = torch.tensor(G[s]); opt.step(); record [float(x) for x in p]
// Each recorded value is a float32 printed exactly, so comparisons are bit-for-bit.
import * as assert from 'node:assert/strict';
import { DType, Tensor, scope } from '../../src/engine';
import { Optimizer, GroupHyper } from '../../src/optim';

export const P0 = [0.5, -1.25, 2.0, 0.1];
export const G = [
  [0.3, -0.7, 1.1, 0.05], [-0.2, 0.4, 0.9, -0.6], [0.8, 0.1, -0.5, 0.3], [0.25, -0.35, 0.45, -0.55],
  [-0.9, 0.6, 0.2, 0.7], [0.15, 0.05, -0.95, 0.4], [0.5, -0.5, 0.5, -0.5], [-0.3, 0.2, 0.1, 0.9],
];

/** A kept leaf parameter that requires grad; dispose it at the end of the test. */
export function param(values: number[], dtype: DType = 'float64'): Tensor {
  return Tensor.from(values, [values.length], dtype).requiresGrad_().keep();
}

/** Makes p.grad exactly g (the gradient of sum(p·g)), replacing any previous gradient. */
export function setGrad(p: Tensor, g: number[]): void {
  p.zeroGrad();
  scope(() => p.mul(Tensor.from(g, [g.length], p.dtype)).sum().backward());
}

/** Steps `opt` once per gradient row, recording p after each step. */
export function trajectory<H extends GroupHyper>(opt: Optimizer<H>, p: Tensor, grads: number[][]): number[][] {
  return grads.map((g) => {
    setGrad(p, g);
    opt.step();
    return p.toArray();
  });
}

export function assertClose(actual: number[], expected: number[], tol = 1e-12, what = 'value'): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  actual.forEach((a, i) => {
    assert.ok(Math.abs(a - expected[i]) <= tol, `${what}[${i}]: got ${a}, expected ${expected[i]} (±${tol})`);
  });
}
