#!/usr/bin/env node
// A tiny static server for the browser demo: the page (this folder), onnxruntime-web's dist/
// files under /ort/ (from node_modules, nothing is downloaded) and the ONNX model at /model.onnx.
//   node examples/web/server.js [--port 8080] [--model models/resnet20-fashion-mnist-w2a2.onnx]
'use strict';
const fs = require('fs');
const http = require('http');
const path = require('path');

const root = path.resolve(__dirname, '..', '..');
const DEFAULT_MODEL = path.join(root, 'models', 'resnet20-fashion-mnist-w2a2.onnx');
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json', '.onnx': 'application/octet-stream', '.bin': 'application/octet-stream', '.png': 'image/png' };

const ORT_DIST = path.join(root, 'node_modules', 'onnxruntime-web', 'dist');

/** The file a URL path names, or null (only files inside the served folders). */
function resolve(urlPath, model) {
  const p = decodeURIComponent(urlPath.split('?')[0]);
  if (p === '/model.onnx') return model;
  const [base, rel] = p.startsWith('/ort/') ? [ORT_DIST, p.slice(5)] : [__dirname, p === '/' ? 'index.html' : p.slice(1)];
  const file = path.resolve(base, rel);
  return file.startsWith(base + path.sep) ? file : null;
}

/** Starts the server on 127.0.0.1 (port 0: a free one); resolves to { url, close() }. */
function startServer({ port = 0, model = DEFAULT_MODEL } = {}) {
  if (!fs.existsSync(model)) throw new Error(`${model}: no such model (export one: gdnsq export --checkpoint F --format onnx --out ${path.relative(process.cwd(), model)})`);
  if (!fs.existsSync(ORT_DIST)) throw new Error(`${ORT_DIST}: missing (npm ci installs onnxruntime-web)`);
  const server = http.createServer((req, res) => {
    const file = resolve(req.url || '/', model);
    if (!file || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found\n');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] || 'application/octet-stream', 'cache-control': 'no-store' });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => {
      const url = `http://127.0.0.1:${server.address().port}/`;
      ok({ url, close: () => new Promise((done) => server.close(() => done())) });
    });
  });
}

module.exports = { startServer, DEFAULT_MODEL };

if (require.main === module) {
  const arg = (name) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : undefined; };
  startServer({ port: Number(arg('--port') || 8080), model: arg('--model') ? path.resolve(arg('--model')) : DEFAULT_MODEL })
    .then((s) => console.log(`serving the demo at ${s.url}`))
    .catch((e) => { console.error(`server: ${e.message}`); process.exit(1); });
}
