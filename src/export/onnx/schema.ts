// The ONNX protobuf messages (protobufjs over the vendored onnx.proto) and the plain-object
// shapes gdnsq builds them from. Field names are the .proto's own (snake_case), so the objects
// read like the spec.
import * as protobuf from 'protobufjs';
import { ONNX_DESCRIPTOR } from './onnx-descriptor';

/** TensorProto.DataType values used here (onnx.proto). */
export const DataType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, UINT4: 21, INT4: 22, UINT2: 25, INT2: 26 } as const;
/** AttributeProto.AttributeType values used here. */
export const AttrType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7 } as const;

export interface TensorProto { name: string; data_type: number; dims: number[]; raw_data: Uint8Array }
export interface AttributeProto { name: string; type: number; f?: number; i?: number; s?: Uint8Array; t?: TensorProto; floats?: number[]; ints?: number[] }
export interface NodeProto { name: string; op_type: string; input: string[]; output: string[]; attribute: AttributeProto[]; domain?: string }
export interface Dim { dim_value?: number; dim_param?: string }
export interface ValueInfoProto { name: string; type: { tensor_type: { elem_type: number; shape: { dim: Dim[] } } } }
export interface GraphProto { name: string; node: NodeProto[]; initializer: TensorProto[]; input: ValueInfoProto[]; output: ValueInfoProto[]; doc_string?: string }
export interface ModelProto {
  ir_version: number;
  opset_import: { domain: string; version: number }[];
  producer_name: string;
  producer_version: string;
  doc_string?: string;
  graph: GraphProto;
  metadata_props: { key: string; value: string }[];
}

let modelType: protobuf.Type | null = null;
/** onnx.ModelProto, built once from the descriptor. */
export function modelProtoType(): protobuf.Type {
  modelType ??= protobuf.Root.fromJSON(ONNX_DESCRIPTOR).lookupType('onnx.ModelProto');
  return modelType;
}

export function encodeModel(m: ModelProto): Uint8Array {
  const T = modelProtoType();
  return T.encode(T.fromObject(m)).finish();
}
