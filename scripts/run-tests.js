#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) with node's test runner: one file
// per core, each with one libtorch thread (small test tensors gain nothing from intra-op
// threads, and two single-threaded files at once keep both cores busy).
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.resolve(__dirname, '..');
const filter = process.argv.slice(2);
function walk(dir, out) {
  if (!fs.existsSync(dir)) return out;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (e.name.endsWith('.test.js')) out.push(p);
  }
  return out;
}
let files = walk(path.join(root, 'dist', 'test'), []).sort();
// Stale compiled tests whose source was removed must not run.
files = files.filter((f) => fs.existsSync(path.join(root, path.relative(path.join(root, 'dist'), f)).replace(/\.js$/, '.ts')));
if (filter.length) files = files.filter((f) => filter.some((s) => f.includes(s)));
if (!files.length) {
  console.error('gdnsq: no test files found under dist/test (run npm run build)');
  process.exit(1);
}
const cores = String(Math.max(1, require('os').availableParallelism()));
const env = { ...process.env, GDNSQ_THREADS: process.env.GDNSQ_THREADS || '1' };
const r = spawnSync(process.execPath, ['--test', `--test-concurrency=${cores}`, '--test-reporter=spec', ...files], { cwd: root, stdio: 'inherit', env });
process.exit(r.status ?? 1);
