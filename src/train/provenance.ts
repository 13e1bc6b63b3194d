// Where a model came from, without the machine's paths: a file is named by its base name and
// its SHA-256, so a card or a summary means the same on any machine.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

export interface FileRef { file: string; sha256: string }

export function fileRef(file: string): FileRef {
  const hash = crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
  return { file: path.basename(file), sha256: hash };
}

/** x rounded to `digits` decimals (for JSON outputs: bits to 3, fractions to 4). */
export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
