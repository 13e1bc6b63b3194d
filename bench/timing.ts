// Shared timing for the benchmarks: warm-up, then the median of timed runs (robust to the
// occasional slow step on a shared machine).
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Median seconds of step() over `iters` runs after `warmup` untimed ones. */
export function timeSteps(step: () => void, iters: number, warmup = 3): number {
  for (let i = 0; i < warmup; i++) step();
  const times: number[] = [];
  for (let i = 0; i < iters; i++) {
    const t0 = process.hrtime.bigint();
    step();
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return median(times);
}
