// Loads the compiled libtorch addon. Everything above this file talks to libtorch through it.
import * as fs from 'fs';
import * as path from 'path';

/** An opaque handle to a libtorch tensor owned by the addon. */
export type NativeHandle = { readonly __brand: 'NativeHandle' };

// The addon's surface is wide and uniform (handles, numbers, arrays); it is typed loosely here
// and precisely in engine/tensor.ts, which is the only direct caller.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type NativeAddon = Record<string, (...args: any[]) => any>;

function findRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'binding.gyp'))) return dir;
    dir = path.dirname(dir);
  }
  return path.resolve(__dirname, '..', '..', '..');
}

export const packageRoot = findRoot();

function load(): NativeAddon {
  const file = path.join(packageRoot, 'build', 'Release', 'gdnsq_native.node');
  if (!fs.existsSync(file)) {
    // Installed as a dependency, scripts/install.js left the reason the build did not happen.
    const reason = path.join(packageRoot, 'build', 'install-error.txt');
    if (fs.existsSync(reason)) throw new Error(`gdnsq: ${fs.readFileSync(reason, 'utf8').trim()}`);
    throw new Error(`gdnsq: native addon not built (${file} is missing): run \`npm run build\` (installed as a dependency: \`npm rebuild gdnsq\`)`);
  }
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  return require(file) as NativeAddon;
}

export const native: NativeAddon = load();
