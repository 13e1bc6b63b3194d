// Placeholder replaced by the engine benchmark.
export function benchEngine(_o: { json: boolean; iters: number }): void {
  throw new Error('bench engine: not implemented yet');
}
