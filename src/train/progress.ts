// Progress display: a bar with ETA and live values on a terminal, plain log lines otherwise
// (CI logs, pipes), so long runs always show where they are.
import { SingleBar, Presets } from 'cli-progress';

export interface ProgressOptions { title: string; total: number; enabled?: boolean; logEvery?: number }

export class Progress {
  private bar: SingleBar | null = null;
  private readonly start = Date.now();
  private readonly logEvery: number;
  private last = 0;

  constructor(private readonly o: ProgressOptions) {
    this.logEvery = o.logEvery ?? Math.max(1, Math.round(o.total / 10));
    if (o.enabled === false) return;
    if (process.stderr.isTTY) {
      this.bar = new SingleBar({
        format: `${o.title} {bar} {percentage}% | {value}/{total} | ETA {eta_formatted} | {values}`,
        stream: process.stderr, hideCursor: true, etaBuffer: 50, fps: 5,
      }, Presets.shades_classic);
      this.bar.start(o.total, 0, { values: '' });
    }
  }

  update(done: number, values: Record<string, string | number>): void {
    const text = Object.entries(values).map(([k, v]) => `${k} ${typeof v === 'number' ? fmt(v) : v}`).join(' ');
    if (this.bar) this.bar.update(done, { values: text });
    else if (this.o.enabled !== false && (done - this.last >= this.logEvery || done === this.o.total)) {
      this.last = done;
      const el = (Date.now() - this.start) / 1000;
      const eta = done > 0 ? (el / done) * (this.o.total - done) : 0;
      process.stderr.write(`${this.o.title} ${done}/${this.o.total} | ${el.toFixed(0)}s, ETA ${eta.toFixed(0)}s | ${text}\n`);
    }
  }

  stop(): void {
    this.bar?.stop();
    this.bar = null;
  }
}

function fmt(v: number): string {
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e4) ? v.toExponential(2) : v.toFixed(4);
}
