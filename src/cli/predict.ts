// `gdnsq predict`: top-1 classes of images with the packed low-bit runtime.
import * as fs from 'fs';
import { Command } from 'commander';
import { setNumThreads } from '../engine';
import { DATASET_NAMES, DatasetName, ImageDataset, loadDataset } from '../data';
import { readIdxImages, readIdxLabels } from '../data/idx';
import { load, ModeChoice } from '../runtime';
import { int, oneOf } from './options';

interface PredictOpts { model: string; input?: string; labels?: string; dataset?: DatasetName; dataDir?: string; batchSize: number; mode: ModeChoice; threads?: number; json?: boolean; out?: string }

/** Images from an IDX file (labels optional) or the test split of a dataset. */
function images(o: PredictOpts, inChannels: number, numClasses: number, defaultDataset: string): { ds: ImageDataset; labelled: boolean; source: string } {
  if (o.input) {
    const { images: px, n, height, width } = readIdxImages(o.input);
    if (inChannels !== 1) throw new Error(`${o.input}: IDX images have 1 channel, the model takes ${inChannels}`);
    const labels = o.labels ? readIdxLabels(o.labels, numClasses) : new Int32Array(n);
    if (labels.length !== n) throw new Error(`${o.labels}: ${labels.length} labels for ${n} images`);
    return { ds: { images: px, labels, n, channels: 1, height, width, numClasses }, labelled: !!o.labels, source: o.input };
  }
  if (o.labels) throw new Error('--labels needs --input (a dataset brings its own labels)');
  const name = o.dataset ?? (defaultDataset as DatasetName);
  return { ds: loadDataset(name, { dataDir: o.dataDir }).test, labelled: true, source: `${name} test split` };
}

export function runPredict(o: PredictOpts): { n: number; predictions: Int32Array; top1: number | null; img_per_s: number } {
  if (o.threads) setNumThreads(o.threads);
  const m = load(o.model, { mode: o.mode });
  try {
    const cfg = m.model.config;
    const { ds, labelled, source } = images(o, cfg.inChannels, cfg.numClasses, m.card.dataset);
    const t0 = process.hrtime.bigint();
    const predictions = m.classify(ds, o.batchSize);
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    let top1: number | null = null;
    if (labelled) top1 = predictions.reduce((a, p, i) => a + (p === ds.labels[i] ? 1 : 0), 0) / ds.n;
    if (o.out) fs.writeFileSync(o.out, `index,class\n${Array.from(predictions, (p, i) => `${i},${p}`).join('\n')}\n`);
    const res = { n: ds.n, predictions, top1, img_per_s: ds.n / s };
    if (o.json) {
      console.log(JSON.stringify({ n: res.n, top1, img_per_s: res.img_per_s, predictions: Array.from(predictions) }));
    } else {
      const packed = m.layers.filter((l) => l.runtime === 'packed');
      console.log(`${o.model}: ${packed.length} of ${m.layers.length} quantized layers on the packed kernels (${[...new Set(packed.map((l) => `W${l.wbits}A${l.abits} ${l.mode}`))].join(', ')})`);
      const rest = m.layers.filter((l) => l.runtime !== 'packed');
      if (rest.length) console.log(`on libtorch (fp32, fake-quantized): ${rest.map((l) => `${l.name} (${l.reason ?? 'not packed'})`).join(', ')}`);
      console.log(`${source}: ${ds.n} images in ${s.toFixed(2)} s (${res.img_per_s.toFixed(0)} img/s)${top1 === null ? '' : `, top-1 ${(100 * top1).toFixed(2)}%`}`);
      if (!o.out) console.log(`first predictions: ${Array.from(predictions.slice(0, 16)).join(' ')}${ds.n > 16 ? ' …' : ''}`);
      else console.log(`predictions written to ${o.out}`);
    }
    return res;
  } finally {
    m.dispose();
  }
}

export function registerPredict(program: Command): void {
  program
    .command('predict')
    .description('classify images with the packed low-bit runtime (integer kernels)')
    .requiredOption('--model <file>', 'a packed file (gdnsq export --format packed) or a quantized checkpoint')
    .option('--input <idx>', 'IDX image file (.gz or not); default: the test split of the model\'s dataset')
    .option('--labels <idx>', 'IDX label file for --input: prints the top-1 accuracy')
    .option('--dataset <name>', `dataset whose test split to classify (${DATASET_NAMES.join(', ')})`, oneOf('--dataset', DATASET_NAMES))
    .option('--data-dir <dir>', 'folder with the dataset files')
    .option('--batch-size <n>', 'batch size', int('--batch-size', 1), 256)
    .option('--mode <kernel>', 'kernel for every layer: auto, bitserial, int8', oneOf('--mode', ['auto', 'bitserial', 'int8'] as const), 'auto')
    .option('--threads <n>', 'threads', int('--threads', 1))
    .option('--out <csv>', 'write index,class per image')
    .option('--json', 'print one JSON line')
    .action((o: PredictOpts) => { runPredict(o); });
}
