export { load, PackedModel, RuntimeOptions, RuntimeLayer, ModeChoice, chooseMode } from './packed-model';
export { PackedConv2d, PackedWeights, foldBatchNorm, activationGrid, IdentityAfterFold, batchNormNameFor } from './packed-conv';
export { FusedBasicBlock, FusedBlockChain, fuseBlocks } from './fuse';
export * as kernels from './kernels';
export { FoldedConv2d, ReLUInPlace, foldFullPrecision } from './fold-fp';
