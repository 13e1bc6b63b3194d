// Append-only JSON-lines metrics file (one object per line), flushed at each write so a
// crashed run keeps everything it measured.
import * as fs from 'fs';

export class MetricsLog {
  constructor(readonly file: string) {}
  write(record: Record<string, unknown>): void {
    fs.appendFileSync(this.file, `${JSON.stringify(record)}\n`);
  }
  static read(file: string): Record<string, unknown>[] {
    if (!fs.existsSync(file)) return [];
    const out: Record<string, unknown>[] = [];
    fs.readFileSync(file, 'utf8').split('\n').forEach((l, i) => {
      if (!l.trim()) return;
      try { out.push(JSON.parse(l) as Record<string, unknown>); } catch { throw new Error(`${file}: line ${i + 1} is not JSON`); }
    });
    return out;
  }
}
