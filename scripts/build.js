#!/usr/bin/env node
// One build command: the native addon (node-gyp, incremental) then the TypeScript (tsc -b).
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');

// Concurrent builds of one checkout would race in build/: serialise them with flock(1).
if (!process.env.GDNSQ_BUILD_LOCKED && spawnSync('flock', ['--version']).status === 0) {
  fs.mkdirSync(path.join(root, 'build'), { recursive: true });
  const r = spawnSync('flock', [path.join(root, 'build', '.lock'), process.execPath, __filename, ...process.argv.slice(2)], {
    stdio: 'inherit', env: { ...process.env, GDNSQ_BUILD_LOCKED: '1' },
  });
  process.exit(r.status ?? 1);
}
const nativeOnly = process.argv.includes('--native-only');
const jobs = String(Math.max(1, require('os').availableParallelism?.() ?? 2));

function run(cmd, args, { quiet = false } = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    if (!quiet) process.stderr.write(`gdnsq: build step failed: ${cmd} ${args.join(' ')}\n`);
    process.exit(r.status ?? 1);
  }
}

// Fails fast, with one line naming the fix, when libtorch is absent.
run(process.execPath, [path.join(root, 'scripts', 'libtorch.js'), '--check'], { quiet: true });
// Our devDependency in a checkout; installed as a dependency, the node-gyp npm itself ships
// (npm passes its path to install scripts as npm_config_node_gyp).
function findGyp() {
  try {
    return require.resolve('node-gyp/bin/node-gyp.js', { paths: [root] });
  } catch {
    const npmGyp = process.env.npm_config_node_gyp;
    if (npmGyp && fs.existsSync(npmGyp)) return npmGyp;
    process.stderr.write('gdnsq: node-gyp not found (run the build from npm, or npm install node-gyp)\n');
    process.exit(1);
  }
}
const gyp = findGyp();
// Re-configure only when the build files are missing or what configure reads changed (the
// libtorch location, binding.gyp, the flags scripts/libtorch.js gives).
const stamp = path.join(root, 'build', 'libtorch.stamp');
const want = `${process.env.LIBTORCH ?? 'system'} portable=${process.env.GDNSQ_PORTABLE ?? ''}\n${fs.readFileSync(path.join(root, 'binding.gyp'), 'utf8')}\n${fs.readFileSync(path.join(root, 'scripts', 'libtorch.js'), 'utf8')}`;
const have = fs.existsSync(stamp) ? fs.readFileSync(stamp, 'utf8') : '';
if (!fs.existsSync(path.join(root, 'build', 'Makefile')) || have !== want) {
  // Node's headers come with this machine's Node (no download): use them when present.
  const nodedir = process.env.npm_config_nodedir || (fs.existsSync('/usr/include/node/node_api.h') ? '/usr' : '');
  run(process.execPath, [gyp, 'configure', '--loglevel=warn', ...(nodedir ? [`--nodedir=${nodedir}`] : [])]);
  fs.writeFileSync(stamp, want);
}
run(process.execPath, [gyp, 'build', '-j', jobs, '--loglevel=warn']);
if (!nativeOnly) run(process.execPath, [require.resolve('typescript/bin/tsc', { paths: [root] }), '-p', 'tsconfig.json']);
