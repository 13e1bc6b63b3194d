// The noise-aware selection metric of GDNSQ.md §4.5: top-1 counts only once the model meets
// every bit-width target, so checkpoints and early stopping never prefer an over-wide model.
export function noiseAwareMetric(top1: number, converged: boolean): number {
  return converged ? top1 : 0;
}
