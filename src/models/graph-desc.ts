// The data an imported graph model is rebuilt from: ONNX's node list (op, inputs, outputs,
// attributes) after import-time clean-up, which nodes own a layer module (Conv2d, Linear,
// BatchNorm2d, LayerNorm) and which initializers are parameters or buffers of the model itself.
// It is plain JSON, stored in the checkpoint's model card, so no ONNX file and no code is needed
// to read a checkpoint back; the tensors themselves live in the state dict.

export type AttrValue = number | number[] | string;

/** A small non-trainable value (shape arithmetic, scalars of the graph's formulas). */
export interface GraphConst { dtype: 'float32' | 'int64'; dims: number[]; data: number[] }

export interface GraphNode {
  /** ONNX op type; module-backed nodes: 'Conv', 'Linear' (a Gemm or MatMul[+Add] with a constant weight), 'BatchNormalization', 'LayerNormalization'. */
  op: string;
  /** The ONNX node's name, for messages. */
  name: string;
  /** Value names; '' marks an absent optional input. */
  inputs: string[];
  outputs: string[];
  attrs: Record<string, AttrValue>;
  /** The attributes ONNX types as float(s) (JSON numbers do not say), so export writes them back as they were. */
  floatAttrs?: string[];
  /** Path of the child module that runs this node (its weights are the module's). */
  module?: string;
}

export type ModuleSpec =
  | { type: 'Conv2d'; inChannels: number; outChannels: number; kernel: [number, number]; stride: [number, number]; padding: [number, number]; dilation: [number, number]; groups: number; bias: boolean }
  /** from 'Gemm' keeps a [N, in] input (Gemm's own contract); 'MatMul' takes [..., in]. */
  | { type: 'Linear'; inFeatures: number; outFeatures: number; bias: boolean; from: 'Gemm' | 'MatMul' }
  | { type: 'BatchNorm2d'; numFeatures: number; eps: number; momentum: number }
  | { type: 'LayerNorm'; shape: number[]; eps: number; weight: boolean; bias: boolean };

export interface GraphDesc {
  format: 'gdnsq-graph/1';
  /** The default-domain opset of the imported file. */
  opset: number;
  /** The graph's one input: its name and its shape without the batch dimension. */
  input: { name: string; shape: number[] };
  output: string;
  nodes: GraphNode[];
  /** Value name → constant. */
  constants: Record<string, GraphConst>;
  /** Value name → a float initializer owned by the graph model (state-dict key, parameter or buffer). */
  tensors: Record<string, { key: string; kind: 'parameter' | 'buffer'; dims: number[] }>;
  /** Module path → the layer built there, in graph order. */
  modules: Record<string, ModuleSpec>;
}

export const GRAPH_FORMAT = 'gdnsq-graph/1';

/** The model registry name of an imported graph. */
export const GRAPH_MODEL = 'graph';
