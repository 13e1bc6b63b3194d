// Reads an ONNX file back (protobufjs, the same schema the exporter writes with) and refuses
// what is not an ONNX model in one line: a missing or truncated file, another format, a model
// without a graph.
import * as fs from 'fs';
import { ModelProto, modelProtoType } from './schema';
import { ONNX_CARD_KEY } from './export';

export interface OnnxFile {
  model: ModelProto;
  /** The default-domain opset the model imports. */
  opset: number;
  /** The gdnsq model card when the file was written by gdnsq, else null. */
  card: Record<string, unknown> | null;
  bytes: number;
}

export function decodeOnnx(bytes: Uint8Array, what = 'ONNX data'): OnnxFile {
  let model: ModelProto;
  try {
    const T = modelProtoType();
    model = T.toObject(T.decode(bytes), { longs: Number, defaults: true }) as ModelProto;
  } catch (e) {
    throw new Error(`${what}: not an ONNX model (truncated or another format: ${(e as Error).message.split('\n')[0]})`);
  }
  const graph = model.graph;
  if (!model.ir_version || !graph || !graph.node?.length || !graph.output?.length) {
    throw new Error(`${what}: not an ONNX model (no ${!model.ir_version ? 'IR version' : 'graph'})`);
  }
  const op = model.opset_import.find((o) => !o.domain || o.domain === 'ai.onnx');
  if (!op) throw new Error(`${what}: not an ONNX model (it imports no ONNX opset)`);
  const entry = model.metadata_props.find((p) => p.key === ONNX_CARD_KEY);
  let card: Record<string, unknown> | null = null;
  if (entry) {
    try {
      card = JSON.parse(entry.value) as Record<string, unknown>;
    } catch {
      throw new Error(`${what}: corrupt gdnsq model card in the ONNX metadata`);
    }
  }
  return { model, opset: Number(op.version), card, bytes: bytes.length };
}

export function readOnnx(file: string): OnnxFile {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new Error(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return decodeOnnx(bytes, file);
}
