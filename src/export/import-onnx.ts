// `gdnsq import --from model.onnx`: a user's ONNX classifier → a trainable gdnsq checkpoint (a
// GraphModel: the graph as data in the card, its initializers in the state dict). The graph's
// input convention holds: a model with its normalization inside takes pixels in [0, 1] as they
// come (the card's normalization is the identity); `normalize` puts one in front instead, as for
// gdnsq's own models. One forward pass on zeros checks that the graph runs and gives [N, classes].
import * as path from 'path';
import { Tensor, scope, noGrad } from '../engine';
import { GraphModel, GRAPH_MODEL } from '../models';
import { ModelCard, saveModelFile } from '../train';
import { readOnnxGraph } from './onnx/read-graph';
import { importGraph } from './onnx/import-graph';

export interface OnnxImportOptions {
  from: string;
  out: string;
  dataset?: string;
  /** Per-channel statistics applied before the graph (default: none, the graph sees pixels in [0, 1]). */
  normalize?: { mean: number[]; std: number[] };
}

export interface OnnxImportResult {
  card: ModelCard;
  model: GraphModel;
  /** Module paths of the layers and what they are. */
  layers: [string, string][];
  nodes: number;
}

/** Reads the ONNX file and builds the graph model with its tensors loaded (the caller disposes it). */
export function graphModelFromOnnx(file: string): { model: GraphModel; opset: number } {
  const raw = readOnnxGraph(file);
  const { desc, state } = importGraph(raw);
  // The class count is what the graph computes: one pass on zeros (batch 2, so BatchNorm-free
  // shape chains see a batch dimension that differs from 1).
  const probe = new GraphModel(desc, { numClasses: 1 });
  let numClasses = 0;
  try {
    scope(() => {
      probe.loadStateDict(tensorsOf(probe, state), { strict: true });
      const y = noGrad(() => probe.eval().forward(Tensor.zeros([2, ...desc.input.shape])));
      if (y.ndim !== 2 || y.size(0) !== 2) throw new Error(`the output '${desc.output}' has shape [${y.shape.join(', ')}] for a batch of 2; gdnsq imports classifiers with logits [N, classes]`);
      numClasses = y.size(1);
    });
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  } finally {
    probe.dispose();
  }
  const model = new GraphModel(desc, { numClasses });
  scope(() => model.loadStateDict(tensorsOf(model, state), { strict: true }));
  return { model, opset: raw.opset };
}

function tensorsOf(model: GraphModel, state: Record<string, { dims: number[]; data: Float32Array | number[] }>): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [k, t] of Object.entries(state)) out[k] = Tensor.from(t.data instanceof Float32Array ? t.data : Float32Array.from(t.data), t.dims);
  // BatchNorm's counter has no ONNX counterpart: it starts at 0, as in a fresh PyTorch module.
  for (const k of Object.keys(model.stateDict())) if (k.endsWith('num_batches_tracked') && !(k in out)) out[k] = Tensor.zeros([], 'int64');
  return out;
}

export function importOnnx(o: OnnxImportOptions): OnnxImportResult {
  const { model, opset } = graphModelFromOnnx(o.from);
  try {
    const c = model.config.inChannels;
    const normalize = o.normalize ?? { mean: new Array<number>(c).fill(0), std: new Array<number>(c).fill(1) };
    if (normalize.mean.length !== c || normalize.std.length !== c || normalize.std.some((s) => !(s > 0))) {
      throw new Error(`import: normalize needs ${c} mean and ${c} std values (the graph's input has ${c} channels, std > 0)`);
    }
    const card: ModelCard = {
      model: GRAPH_MODEL, args: { ...model.config }, dataset: o.dataset as string, normalize,
      imported: { from: path.basename(o.from), format: 'onnx', opset, normalization: o.normalize ? 'added in front' : 'inside the graph (if any)' },
      graph: model.desc,
    };
    if (o.dataset === undefined) delete (card as Partial<ModelCard>).dataset;
    saveModelFile(o.out, model.stateDict(), card);
    const layers = model.namedModules().filter(([n, m]) => n && m.constructor.name !== 'GraphScope').map(([n, m]) => [n, m.constructor.name] as [string, string]);
    return { card, model, layers, nodes: model.desc.nodes.length };
  } catch (e) {
    model.dispose();
    throw e;
  }
}
