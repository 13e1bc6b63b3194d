#!/usr/bin/env node
// npm's install step for gdnsq as a dependency: builds the native addon (scripts/build.js
// --native-only). When libtorch or a C++ toolchain is missing, or the build fails, it prints one
// line saying what is missing and exits 0, so the rest of `npm install` goes on; `require('gdnsq')`
// then names the missing addon in one line, and `npm rebuild gdnsq` retries once it is fixed.
// GDNSQ_SKIP_INSTALL_BUILD=1 skips the build (e.g. to copy in a prebuilt addon).
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
if (process.env.GDNSQ_SKIP_INSTALL_BUILD === '1') process.exit(0);
// The reason is also left in build/install-error.txt, for the error require('gdnsq') gives.
const build = path.join(root, 'build');
const reasonFile = path.join(build, 'install-error.txt');
fs.mkdirSync(build, { recursive: true });
fs.rmSync(reasonFile, { force: true });
const say = (msg) => {
  process.stderr.write(`gdnsq: ${msg}\n`);
  fs.writeFileSync(reasonFile, `${msg}\n`);
};

const torch = spawnSync(process.execPath, [path.join(__dirname, 'libtorch.js'), '--check'], { encoding: 'utf8' });
if (torch.status !== 0) {
  say(`native addon not built: ${(torch.stderr || '').replace(/^gdnsq: /, '').trim()}; then run \`npm rebuild gdnsq\``);
  process.exit(0);
}
const missing = ['c++', 'make'].filter((cmd) => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status !== 0);
if (missing.length) {
  say(`native addon not built: ${missing.join(' and ')} not found (Debian: apt-get install g++ make); then run \`npm rebuild gdnsq\``);
  process.exit(0);
}
const log = path.join(build, 'install.log');
const out = fs.openSync(log, 'w');
const r = spawnSync(process.execPath, [path.join(__dirname, 'build.js'), '--native-only'], { cwd: root, stdio: ['ignore', out, out] });
fs.closeSync(out);
if (r.status !== 0) say(`native addon build failed (see ${log}); fix it and run \`npm rebuild gdnsq\``);
