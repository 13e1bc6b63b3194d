export { ModelConfig, ModelArgs, Model } from './config';
export { ResNet, BasicBlock, cifarResNet, resnet18 } from './resnet';
export { SmallCNN } from './smallcnn';
export { createModel, MODEL_NAMES } from './registry';
