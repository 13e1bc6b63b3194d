// A small synthetic IDX classification set for end-to-end tests: class k is a fixed random
// side×side prototype plus pixel noise and a random brightness shift, written as the four
// Fashion-MNIST-named IDX files gdnsq's `idx` dataset reads, and the `gdnsq` CLI runner.
import * as path from 'path';
import { spawnSync } from 'child_process';
import { packageRoot } from '../../src/engine/native';
import { idxBytes, writeFile } from '../data/files';

export function syntheticImages(n: number, seed: number, side: number, noise: number): { x: Uint8Array; y: Uint8Array } {
  const px = side * side;
  let s = seed >>> 0;
  const r = (): number => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32; };
  const protos = Array.from({ length: 10 }, (_, k) => { let t = 1000 + k; return Array.from({ length: px }, () => { t = (Math.imul(t, 1664525) + 1013904223) >>> 0; return t >>> 24; }); });
  const x = new Uint8Array(n * px), y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const k = Math.floor(r() * 10);
    y[i] = k;
    const shift = (r() - 0.5) * 60;
    for (let j = 0; j < px; j++) x[i * px + j] = Math.max(0, Math.min(255, Math.round(protos[k][j] + shift + (r() - 0.5) * noise)));
  }
  return { x, y };
}

/** Writes train (default 1,200) and test (default 300) images of side×side into dir in the IDX layout. */
export function writeSyntheticIdx(dir: string, side: number, noise: number, train = 1200, test = 300): void {
  const tr = syntheticImages(train, 1, side, noise), te = syntheticImages(test, 2, side, noise);
  writeFile(dir, 'train-images-idx3-ubyte', idxBytes(0x803, [train, side, side], tr.x));
  writeFile(dir, 'train-labels-idx1-ubyte', idxBytes(0x801, [train], tr.y));
  writeFile(dir, 't10k-images-idx3-ubyte', idxBytes(0x803, [test, side, side], te.x));
  writeFile(dir, 't10k-labels-idx1-ubyte', idxBytes(0x801, [test], te.y));
}

const bin = path.join(packageRoot, 'bin', 'gdnsq');
export const gdnsq = (args: string[]): { status: number | null; stdout: string; stderr: string } =>
  spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, GDNSQ_THREADS: '1' } });
