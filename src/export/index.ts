export { pack, unpack, packedBytes, bitsFor, MIN_PACK_BITS, MAX_PACK_BITS } from './bitpack';
export { PACKED_FORMAT, PACKED_VERSION, PackedLayer, PackedHeader, isPackedFile, readPackedState } from './packed-format';
export { savePacked, loadPacked, exportPacked, packedSizes, PackedExport, PackedLayerSize } from './packed';
export { modelInfo, formatInfo, ModelInfo, LayerInfo } from './info';
export { readOnnxSummary, OnnxSummary, OnnxInitializer } from './onnx-summary';
export { importStateDict, readStateDict, stateDictMismatch, withBatchCounters, ImportOptions } from './import';
export { importOnnx, graphModelFromOnnx, OnnxImportOptions, OnnxImportResult } from './import-onnx';
export { readTorchStateDict } from './torch-pt';
export { loadModel } from './load';
