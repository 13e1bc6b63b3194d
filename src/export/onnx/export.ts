// exportOnnx(model): a self-contained ONNX model of a gdnsq classifier (FP or quantized), taking
// float32 NCHW pixels in [0, 1] (normalization inside the graph) and returning logits.
import * as fs from 'fs';
import { Model, GraphModel } from '../../models';
import { GraphBuilder } from './graph-builder';
import { ModelEmitter } from './emit-model';
import { QuantizerExport } from './emit-quant';
import { CONTAINERS, checkOpset, defaultOpset, irVersionFor } from './containers';
import { DataType, ModelProto, ValueInfoProto, encodeModel } from './schema';

export const ONNX_INPUT = 'pixels';
export const ONNX_OUTPUT = 'logits';
/** metadata_props key holding the model card, so our ONNX files say where they came from. */
export const ONNX_CARD_KEY = 'gdnsq';

export interface OnnxExportOptions {
  /** Per-channel statistics of pixels in [0, 1] the model was trained on; omitted: none. */
  normalize?: { mean: number[]; std: number[] };
  /** Default: the smallest opset whose integer types hold every quantizer's codes at their true width. */
  opset?: number;
  /** Image height and width (default: symbolic). */
  imageSize?: [number, number];
  /** Stored as JSON under metadata key 'gdnsq'. */
  card?: Record<string, unknown>;
  producerVersion?: string;
}

export interface OnnxExport {
  bytes: Uint8Array;
  opset: number;
  irVersion: number;
  quantizers: QuantizerExport[];
}

export interface GraphSpec {
  name: string;
  opset: number;
  inputs: ValueInfoProto[];
  outputs: ValueInfoProto[];
  metadata?: Record<string, string>;
  producerVersion?: string;
}

/** A ModelProto around the builder's nodes (default domain, the IR version of the opset). */
export function modelProto(g: GraphBuilder, s: GraphSpec): ModelProto {
  return {
    ir_version: irVersionFor(s.opset),
    opset_import: [{ domain: '', version: s.opset }],
    producer_name: 'gdnsq',
    producer_version: s.producerVersion ?? '',
    graph: { name: s.name, node: g.nodes, initializer: g.initializers, input: s.inputs, output: s.outputs },
    metadata_props: Object.entries(s.metadata ?? {}).map(([key, value]) => ({ key, value })),
  };
}

/** A float32 tensor's name, type and shape (numbers fixed, strings symbolic). */
export function tensorInfo(name: string, dims: (number | string)[]): ValueInfoProto {
  const dim = dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d }));
  return { name, type: { tensor_type: { elem_type: DataType.FLOAT, shape: { dim } } } };
}

function build(model: Model, o: OnnxExportOptions, opset: number): { g: GraphBuilder; quantizers: QuantizerExport[]; output: string } {
  const g = new GraphBuilder();
  const { inChannels: c } = model.config;
  let x = g.reserve(ONNX_INPUT);
  g.reserve(ONNX_OUTPUT);
  if (o.normalize) {
    const { mean, std } = o.normalize;
    if (mean.length !== c || std.length !== c) throw new Error(`onnx export: normalize needs ${c} mean and std values, got ${mean.length} and ${std.length}`);
    x = g.op('Sub', [x, g.floats('normalize_mean', mean, [1, c, 1, 1])], 'normalize_centered');
    x = g.op('Div', [x, g.floats('normalize_std', std, [1, c, 1, 1])], 'normalized');
  }
  const e = new ModelEmitter(g, opset);
  const output = e.emit(model, x, '');
  return { g, quantizers: e.quantizers, output };
}

/** Builds the ONNX bytes of a model; the model is put in eval mode and left so. */
export function exportOnnx(model: Model, o: OnnxExportOptions = {}): OnnxExport {
  model.train(false);
  // The codes decide the containers, and the containers the default opset: a first pass with
  // every container allowed finds the widths, then the real pass uses the chosen opset.
  let opset = o.opset === undefined ? undefined : checkOpset(o.opset);
  if (opset === undefined) {
    const probe = build(model, o, 25);
    opset = defaultOpset(probe.quantizers.filter((q) => q.container).map((q) => CONTAINERS[q.container!].bits));
    // An imported graph is written at its own opset or later (its ops are that opset's).
    if (model instanceof GraphModel) opset = Math.max(opset, model.desc.opset);
  } else if (model instanceof GraphModel && opset < model.desc.opset) {
    throw new Error(`onnx export: the imported graph uses opset ${model.desc.opset}; --opset ${opset} is older`);
  }
  const { g, quantizers, output } = build(model, o, opset);
  // The last node's output becomes the graph output under its public name.
  const last = g.nodes[g.nodes.length - 1];
  if (!last || last.output[0] !== output) throw new Error('onnx export: the model has no final layer to take the logits from');
  last.output[0] = ONNX_OUTPUT;
  const [h, w] = model instanceof GraphModel ? model.desc.input.shape.slice(1) : o.imageSize ?? ['height', 'width'];
  const proto = modelProto(g, {
    name: model.config.name, opset, producerVersion: o.producerVersion,
    inputs: [tensorInfo(ONNX_INPUT, ['batch', model.config.inChannels, h, w])],
    outputs: [tensorInfo(ONNX_OUTPUT, ['batch', model.config.numClasses])],
    metadata: o.card ? { [ONNX_CARD_KEY]: JSON.stringify(o.card) } : {},
  });
  return { bytes: encodeModel(proto), opset, irVersion: proto.ir_version, quantizers };
}

export function writeOnnx(file: string, model: Model, o: OnnxExportOptions = {}): OnnxExport {
  const out = exportOnnx(model, o);
  fs.writeFileSync(file, out.bytes);
  return out;
}
