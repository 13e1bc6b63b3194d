// Proof that a quantized model is what it claims (GDNSQ.md §4.6): in evaluation every quantized
// tensor is exactly code·s + lo with integer codes inside the target range [0, 2^bits − 1].
// Weights are checked directly; activations on the batches given, by observing each
// activation quantizer's output while the model runs.
import { Tensor, noGrad, scope } from '../engine';
import { Module } from '../nn';
import { Quantizer } from './quantizer';
import { quantizedLayers } from './qlayer';

export interface GridCheck {
  name: string;
  role: 'act' | 'weight' | 'bias';
  target: number;
  /** Lowest and highest code seen. */
  codeMin: number;
  codeMax: number;
  /** Largest distance of (x̂ − lo)/s from an integer. */
  offGrid: number;
  ok: boolean;
}

const TOL = 1e-3;

function check(q: Quantizer, y: Tensor, x: Tensor, name: string, role: GridCheck['role']): GridCheck {
  return noGrad(() => scope(() => {
    const g = q.grid(x);
    const along = q.channels > 1 ? y.shape.map((d, i) => (i === 0 ? d : 1)) : [1];
    const v = y.sub(g.lo.reshape(along)).div(g.sigma.exp2().reshape(along)).to('float64');
    const off = v.sub(v.round()).abs().amax().item();
    const codeMin = v.amin().item();
    const codeMax = v.amax().item();
    const top = 2 ** q.targetBits - 1;
    const ok = off < TOL && codeMin > -TOL && codeMax < top + TOL;
    return { name, role, target: q.targetBits, codeMin: Math.round(codeMin), codeMax: Math.round(codeMax), offGrid: off, ok };
  }));
}

export function verifyGrid(model: Module, batches: Iterable<Tensor>): GridCheck[] {
  const out: GridCheck[] = [];
  const acts = new Map<Quantizer, GridCheck>();
  const restore: (() => void)[] = [];
  const wasTraining = model.training;
  model.eval();
  try {
    for (const [layer, l] of quantizedLayers(model)) {
      for (const [role, q] of l.quantizers()) {
        if (!q.active) continue;
        const name = `${layer}.${role}_quant`;
        if (role === 'act') {
          const orig = q.forward.bind(q);
          q.forward = (x: Tensor): Tensor => {
            const y = orig(x);
            const c = check(q, y, x, name, role);
            const prev = acts.get(q);
            acts.set(q, prev ? { ...c, codeMin: Math.min(prev.codeMin, c.codeMin), codeMax: Math.max(prev.codeMax, c.codeMax), offGrid: Math.max(prev.offGrid, c.offGrid), ok: prev.ok && c.ok } : c);
            return y;
          };
          restore.push(() => { delete (q as { forward?: unknown }).forward; });
        } else {
          const operand = role === 'weight' ? l.weight : l.bias!;
          out.push(noGrad(() => scope(() => check(q, q.forward(operand), operand, name, role))));
        }
      }
    }
    noGrad(() => { for (const x of batches) scope(() => { model.forward(x); }); });
  } finally {
    for (const r of restore) r();
    model.train(wasTraining);
  }
  return [...out, ...acts.values()];
}
