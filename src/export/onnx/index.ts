export { exportOnnx, writeOnnx, modelProto, tensorInfo, GraphSpec, OnnxExportOptions, OnnxExport, ONNX_INPUT, ONNX_OUTPUT, ONNX_CARD_KEY } from './export';
export { QuantizerExport } from './emit-quant';
export { Container, CONTAINERS, MIN_OPSET, MAX_OPSET, containerFor, codeBits, defaultOpset, irVersionFor, checkOpset } from './containers';
export { GraphBuilder, packCodes, unpackCodes } from './graph-builder';
export { DataType, ModelProto, GraphProto, NodeProto, TensorProto, encodeModel, modelProtoType } from './schema';
export { readOnnx, decodeOnnx, OnnxFile } from './read';
export { compareOnnx, gdnsqLogits, loadOrt, createSession, OnnxComparison, CompareOptions } from './verify';
export { readOnnxGraph, graphFromOnnx, RawGraph, RawNode, RawTensor, IMPORT_MIN_OPSET, IMPORT_MAX_OPSET } from './read-graph';
export { importGraph, ImportedGraph } from './import-graph';
