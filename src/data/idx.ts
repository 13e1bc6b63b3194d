// IDX files (the MNIST / Fashion-MNIST format): a big-endian u32 magic 0x000008DD (unsigned
// bytes, DD dimensions), DD big-endian u32 sizes, then the bytes row-major. Gzip-compressed
// files are recognized by their magic 1f 8b, whatever the file is called.
import * as fs from 'fs';
import * as zlib from 'zlib';
import { ImageDataset, checkLabels } from './dataset';

export const IDX_IMAGES_MAGIC = 0x00000803;
export const IDX_LABELS_MAGIC = 0x00000801;

const hex = (v: number): string => '0x' + v.toString(16).padStart(8, '0');

/** The file's bytes, gunzipped when they start with the gzip magic. */
export function readMaybeGzip(file: string, what: string): Buffer {
  if (!fs.existsSync(file)) throw new Error(`${what} ${file}: file not found`);
  const raw = fs.readFileSync(file);
  if (raw.length < 2 || raw[0] !== 0x1f || raw[1] !== 0x8b) return raw;
  try {
    return zlib.gunzipSync(raw);
  } catch (e) {
    throw new Error(`${what} ${file}: cannot gunzip (${(e as Error).message})`);
  }
}

/** Reads an IDX file of unsigned bytes with the given magic: its sizes and its data (a view). */
export function readIdx(file: string, magic: number): { dims: number[]; data: Uint8Array } {
  const where = `idx ${file}`;
  const buf = readMaybeGzip(file, 'idx');
  if (buf.length < 4) throw new Error(`${where}: truncated file (${buf.length} bytes, no magic)`);
  const got = buf.readUInt32BE(0);
  if (got !== magic) throw new Error(`${where}: wrong magic ${hex(got)}, expected ${hex(magic)}`);
  const ndim = magic & 0xff;
  const start = 4 + 4 * ndim;
  if (buf.length < start) throw new Error(`${where}: truncated file (${buf.length} bytes, header needs ${start})`);
  const dims: number[] = [];
  for (let i = 0; i < ndim; i++) dims.push(buf.readUInt32BE(4 + 4 * i));
  const want = dims.reduce((a, b) => a * b, 1);
  const have = buf.length - start;
  if (have < want) throw new Error(`${where}: truncated file (dims [${dims.join(', ')}] need ${want} data bytes, found ${have})`);
  if (have > want) throw new Error(`${where}: dims mismatch (dims [${dims.join(', ')}] need ${want} data bytes, found ${have})`);
  return { dims, data: buf.subarray(start) };
}

export function readIdxImages(file: string): { images: Uint8Array; n: number; height: number; width: number } {
  const { dims, data } = readIdx(file, IDX_IMAGES_MAGIC);
  return { images: data, n: dims[0], height: dims[1], width: dims[2] };
}

/** Labels as class indices; with numClasses, every label must lie in 0..numClasses-1. */
export function readIdxLabels(file: string, numClasses?: number): Int32Array {
  const { data } = readIdx(file, IDX_LABELS_MAGIC);
  const labels = Int32Array.from(data);
  if (numClasses !== undefined) checkLabels(labels, numClasses, `idx ${file}`);
  return labels;
}

/**
 * One split from an images file and its labels file. Without numClasses, the class count is
 * the largest label + 1.
 */
export function loadIdxPair(imagesFile: string, labelsFile: string, numClasses?: number): ImageDataset {
  const img = readIdxImages(imagesFile);
  const labels = readIdxLabels(labelsFile, numClasses);
  if (labels.length !== img.n) throw new Error(`idx ${labelsFile}: ${labels.length} labels but ${imagesFile} has ${img.n} images`);
  const classes = numClasses ?? labels.reduce((m, v) => Math.max(m, v + 1), 0);
  return { images: img.images, labels, n: img.n, channels: 1, height: img.height, width: img.width, numClasses: classes };
}
