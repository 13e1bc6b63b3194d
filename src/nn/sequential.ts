// A chain of modules, after torch.nn.Sequential: children are named "0", "1", ... and applied
// in order.
import { Tensor } from '../engine';
import { Module } from './module';

/**
 * Applies the modules in order, disposing each intermediate result as soon as the next one is
 * computed: in inference only one activation is alive at a time (autograd keeps what it needs).
 */
export function chain(x: Tensor, modules: Iterable<Module>): Tensor {
  let y = x;
  for (const m of modules) {
    const next = m.call(y);
    if (y !== x && next !== y) y.dispose();
    y = next;
  }
  return y;
}

export class Sequential extends Module {
  constructor(...modules: Module[]) {
    super();
    for (const m of modules) this.append(m);
  }

  append(m: Module): this {
    this.registerModule(String(this.length), m);
    return this;
  }

  get length(): number {
    return this.children().length;
  }

  /** The i-th module; negative i counts from the end. */
  at(i: number): Module {
    const n = this.length;
    const j = i < 0 ? n + i : i;
    if (!Number.isInteger(j) || j < 0 || j >= n) throw new Error(`Sequential: index ${i} out of range for ${n} modules`);
    return this.getSubmodule(String(j));
  }

  override forward(x: Tensor): Tensor {
    return chain(x, this.children());
  }
}
