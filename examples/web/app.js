// The demo: loads the exported ONNX model in onnxruntime-web (WASM, one thread: no special
// headers needed), classifies the shipped test images and whatever is drawn on the pad.
// window.demo.classify(pixels, n) is what the browser test calls.
'use strict';
const CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
const SIZE = 28 * 28;

ort.env.wasm.wasmPaths = '/ort/';
ort.env.wasm.numThreads = 1;

function softmax(logits) {
  const m = Math.max(...logits);
  const e = logits.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}
const argmax = (a) => a.reduce((best, v, i) => (v > a[best] ? i : best), 0);

function draw(canvas, pixels) {
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(28, 28);
  for (let i = 0; i < SIZE; i++) {
    const v = Math.round(pixels[i] * 255);
    img.data.set([v, v, v, 255], i * 4);
  }
  ctx.putImageData(img, 0, 0);
}

async function start() {
  const [modelBytes, samples] = await Promise.all([
    fetch('/model.onnx').then((r) => r.arrayBuffer()),
    fetch('samples.bin').then((r) => r.arrayBuffer()),
  ]);
  const session = await ort.InferenceSession.create(modelBytes, { executionProviders: ['wasm'] });
  const n = samples.byteLength / (SIZE + 1);
  const bytes = new Uint8Array(samples);
  const labels = Array.from(bytes.subarray(0, n));
  const images = Float32Array.from(bytes.subarray(n), (v) => v / 255);

  async function classify(pixels, count) {
    const out = await session.run({ pixels: new ort.Tensor('float32', Float32Array.from(pixels), [count, 1, 28, 28]) });
    return Array.from(out.logits.data);
  }

  const pad = document.getElementById('pad');
  function show(pixels, logits, label) {
    draw(pad, pixels);
    const p = softmax(logits);
    const k = argmax(p);
    document.getElementById('prediction').textContent =
      `${CLASSES[k]} (${(100 * p[k]).toFixed(1)}%)` + (label === undefined ? '' : label === k ? ' ✓' : `, truly ${CLASSES[label]}`);
    document.getElementById('bars').innerHTML = p.map((v, i) =>
      `<div class="bar"><span>${CLASSES[i]}</span><div style="width:${Math.round(180 * v)}px"></div></div>`).join('');
  }

  const logits = await classify(images, n);
  const grid = document.getElementById('grid');
  let correct = 0;
  const thumbs = labels.map((label, i) => {
    const c = document.createElement('canvas');
    c.width = c.height = 28;
    const pixels = images.subarray(i * SIZE, (i + 1) * SIZE);
    draw(c, pixels);
    const l = logits.slice(i * 10, (i + 1) * 10);
    if (argmax(l) === label) correct++;
    else c.classList.add('wrong');
    c.title = `${CLASSES[label]} → ${CLASSES[argmax(l)]}`;
    c.onclick = () => {
      thumbs.forEach((t) => t.classList.remove('selected'));
      c.classList.add('selected');
      show(pixels, l, label);
    };
    grid.appendChild(c);
    return c;
  });
  document.getElementById('accuracy').textContent = `${correct}/${n} of these test images classified correctly`;
  document.getElementById('info').textContent =
    `model: ${(modelBytes.byteLength / 1024).toFixed(1)} KiB ONNX (2-bit weight and activation codes), ONNX Runtime Web ${ort.env.versions.web} (WASM, 1 thread)`;
  thumbs[0].onclick();

  // Drawing: white strokes on black, classified as the pen lifts.
  const drawn = new Float32Array(SIZE);
  let pen = false;
  const paint = (e) => {
    const r = pad.getBoundingClientRect();
    const cx = ((e.clientX - r.left) / r.width) * 28, cy = ((e.clientY - r.top) / r.height) * 28;
    for (let y = 0; y < 28; y++) for (let x = 0; x < 28; x++) {
      const d = Math.hypot(x + 0.5 - cx, y + 0.5 - cy);
      drawn[y * 28 + x] = Math.max(drawn[y * 28 + x], Math.min(1, Math.max(0, 1.8 - d)));
    }
    draw(pad, drawn);
  };
  pad.onpointerdown = (e) => { pen = true; paint(e); };
  pad.onpointermove = (e) => { if (pen) paint(e); };
  pad.onpointerup = async () => { pen = false; show(drawn, await classify(drawn, 1)); };
  document.getElementById('clear').onclick = () => {
    drawn.fill(0);
    draw(pad, drawn);
    document.getElementById('prediction').textContent = '';
    document.getElementById('bars').innerHTML = '';
  };
  return { classify, labels, images, n, logits };
}

window.demo = start().catch((e) => {
  document.getElementById('info').textContent = `error: ${e.message}`;
  throw e;
});
