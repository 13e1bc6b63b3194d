// A tiny IDX data set for the distributed tests: 8×8 images of 10 noisy class prototypes.
import * as path from 'path';
import { idxBytes, writeFile } from '../data/files';

function images(n: number, seed: number): { x: Uint8Array; y: Uint8Array } {
  let s = seed >>> 0;
  const r = (): number => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32; };
  const protos = Array.from({ length: 10 }, (_, k) => Array.from({ length: 64 }, (_, j) => ((k * 37 + j * 11) * 2654435761 >>> 24) & 255));
  const x = new Uint8Array(n * 64), y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const k = Math.floor(r() * 10);
    y[i] = k;
    for (let j = 0; j < 64; j++) x[i * 64 + j] = Math.max(0, Math.min(255, Math.round(protos[k][j] + (r() - 0.5) * 100)));
  }
  return { x, y };
}

/** Writes train (n images) and test (n/4) IDX files into dir/data; returns that folder. */
export function writeIdx(dir: string, n: number): string {
  const data = path.join(dir, 'data');
  const tr = images(n, 1), te = images(Math.max(10, n >> 2), 2);
  writeFile(data, 'train-images-idx3-ubyte', idxBytes(0x803, [n, 8, 8], tr.x));
  writeFile(data, 'train-labels-idx1-ubyte', idxBytes(0x801, [n], tr.y));
  writeFile(data, 't10k-images-idx3-ubyte', idxBytes(0x803, [te.y.length, 8, 8], te.x));
  writeFile(data, 't10k-labels-idx1-ubyte', idxBytes(0x801, [te.y.length], te.y));
  return data;
}
