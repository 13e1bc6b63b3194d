export { load, PackedModel, RuntimeOptions, RuntimeLayer, ModeChoice, chooseMode } from './packed-model';
export { PackedConv2d, PackedWeights, foldBatchNorm, activationGrid, IdentityAfterFold, batchNormNameFor, isDepthwise, epilogueTerms, EpilogueTerms } from './packed-conv';
export { PackedLinear } from './packed-linear';
export { FusedBasicBlock, FusedBlockChain, fuseBlocks } from './fuse';
export * as kernels from './kernels';
export { FoldedConv2d, ReLUInPlace, foldFullPrecision } from './fold-fp';
