// The descent's guard rail: after every optimizer step each active quantizer is projected back
// into the band of its target's levels (Quantizer.project), so no penalty, temperature or
// momentum can take a layer below its last level (a constant output) during fine-tuning.
import { Module } from '../nn';
import { quantizedLayers } from './qlayer';
import { QuantizerRole } from './bits';

/**
 * Projects every active quantizer of `model`; `floorTarget(role, target)` gives the target whose
 * levels are kept (default: the quantizer's own target; a size budget, whose layers may go below
 * the nominal target, passes 1: never below one bit).
 */
export function projectQuantizers(model: Module, floorTarget?: (role: QuantizerRole, target: number) => number): void {
  for (const [, l] of quantizedLayers(model)) {
    for (const [role, q] of l.quantizers()) {
      if (!q.active) continue;
      const operand = role === 'weight' ? l.weight : role === 'bias' ? l.bias! : undefined;
      q.project(floorTarget ? floorTarget(role, q.targetBits) : q.targetBits, operand);
    }
  }
}
