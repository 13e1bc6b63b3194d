// In-memory 8×8 one-channel images of 10 classes for the distributed workers.
import { ImageDataset } from '../../src/data';

export function synthetic(n: number, seed: number): ImageDataset {
  let s = seed >>> 0;
  const r = (): number => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32; };
  const images = new Uint8Array(n * 64), labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const k = Math.floor(r() * 10);
    labels[i] = k;
    for (let j = 0; j < 64; j++) images[i * 64 + j] = Math.max(0, Math.min(255, Math.round(((k * 29 + j * 13) % 256) + (r() - 0.5) * 90)));
  }
  return { images, labels, n, channels: 1, height: 8, width: 8, numClasses: 10 };
}
