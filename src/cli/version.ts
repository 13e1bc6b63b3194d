// The package's version, read from its package.json (the CLI's --version, ONNX producer_version).
import * as fs from 'fs';
import * as path from 'path';
import { packageRoot } from '../engine/native';

export function version(): string {
  return (JSON.parse(fs.readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
}
