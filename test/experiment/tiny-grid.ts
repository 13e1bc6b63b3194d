// The tiny grid the experiment tests run through the CLI: an IDX data set of 4 classes of 8×8
// images (class k a bright bar on row 2k, plus noise from a fixed LCG; 440 training and 60 test
// images) and an untrained SmallCNN teacher, written under a test's folder.
import * as path from 'path';
import { spawnSync } from 'child_process';
import { manualSeed } from '../../src/engine';
import { packageRoot } from '../../src/engine/native';
import { createModel } from '../../src/models';
import { saveModelFile } from '../../src/train';
import { idxBytes, writeFile } from '../data/files';

export const bin = path.join(packageRoot, 'bin', 'gdnsq');
export const env = { ...process.env, GDNSQ_THREADS: '1' };

/** `gdnsq args…` in `cwd`. */
export const cli = (cwd: string, args: string[]): { status: number | null; stdout: string; stderr: string } =>
  spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env, cwd });

function images(n: number, seed: number): { x: Uint8Array; y: Uint8Array } {
  let s = seed >>> 0;
  const r = (): number => { s = (Math.imul(s, 22695477) + 1) >>> 0; return (s >>> 8) / 2 ** 24; };
  const x = new Uint8Array(n * 64), y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % 4;
    for (let j = 0; j < 64; j++) x[i * 64 + j] = Math.round((Math.floor(j / 8) === 2 * y[i] ? 180 : 40) + 70 * r());
  }
  return { x, y };
}

/** Writes `<dir>/data/` (the IDX files) and `<dir>/fp.safetensors` (the teacher). */
export function writeTinyTeacherAndData(dir: string): void {
  const data = path.join(dir, 'data');
  for (const [name, n, seed] of [['train', 440, 1], ['t10k', 60, 2]] as const) {
    const d = images(n, seed);
    writeFile(data, `${name}-images-idx3-ubyte`, idxBytes(0x803, [n, 8, 8], d.x));
    writeFile(data, `${name}-labels-idx1-ubyte`, idxBytes(0x801, [n], d.y));
  }
  manualSeed(0);
  const m = createModel('smallcnn', { inChannels: 1, numClasses: 4 });
  saveModelFile(path.join(dir, 'fp.safetensors'), m.stateDict(), { model: 'smallcnn', args: { ...m.config }, dataset: 'idx', normalize: { mean: [0.35], std: [0.3] } });
  m.dispose();
}

/** Writes the config `<dir>/grid/<name>.json` (teacher, data and results paths relative to it) with these rows; returns its path relative to dir. */
export function writeTinyConfig(dir: string, name: string, fields: Record<string, unknown>): string {
  const config = {
    title: `${name} grid`, teacher: '../fp.safetensors', dataset: { name: 'idx', dataDir: '../data', valSize: 40 }, budget: { epochs: 2, batchSize: 20 },
    results: `../results/${name}.json`, ...fields,
  };
  writeFile(path.join(dir, 'grid'), `${name}.json`, Buffer.from(JSON.stringify(config)));
  return `grid/${name}.json`;
}
