export { ModelConfig, ModelArgs, Model } from './config';
export { ResNet, BasicBlock, cifarResNet, resnet18 } from './resnet';
export { SmallCNN } from './smallcnn';
export { createModel, MODEL_NAMES } from './registry';
export { GraphModel, GraphScope, checkGraphDesc, graphFpNodes } from './graph';
export { GraphDesc, GraphNode, GraphConst, ModuleSpec, AttrValue, GRAPH_FORMAT, GRAPH_MODEL } from './graph-desc';
export { SUPPORTED_OPS } from './graph-ops';
