// Pulls each batch inside its own scope, so the batch tensors and everything computed from
// them are freed when the step ends (loaders create tensors lazily, on next()).
import { scope } from '../engine';

export function forEachInScope<B>(items: Iterable<B>, fn: (item: B, index: number) => void): number {
  const it = items[Symbol.iterator]();
  let i = 0;
  for (;;) {
    const done = scope(() => {
      const r = it.next();
      if (r.done) return true;
      fn(r.value, i);
      return false;
    });
    if (done) return i;
    i++;
  }
}
