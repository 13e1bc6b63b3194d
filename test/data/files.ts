// Writers of tiny dataset files for the tests, built from the published formats.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';

export function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'gdnsq-data-'));
}

/** An IDX file: big-endian magic, big-endian u32 dims, then the bytes. */
export function idxBytes(magic: number, dims: number[], data: number[] | Uint8Array): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([head, Buffer.from(data)]);
}

export function writeFile(dir: string, name: string, bytes: Buffer, gzip = false): string {
  const f = path.join(dir, name);
  fs.mkdirSync(path.dirname(f), { recursive: true });
  fs.writeFileSync(f, gzip ? zlib.gzipSync(bytes) : bytes);
  return f;
}

/** Pixel j of the CIFAR test image tagged `tag`. */
export const cifarPixel = (tag: number, j: number): number => (tag * 7 + j) & 255;

/** A CIFAR record file: per image, its label bytes then 3072 pixel bytes (cifarPixel(tag, j)). */
export function cifarBytes(records: { labels: number[]; tag: number }[]): Buffer {
  return Buffer.concat(records.map((r) => Buffer.from([...r.labels, ...Array.from({ length: 3072 }, (_, j) => cifarPixel(r.tag, j))])));
}
