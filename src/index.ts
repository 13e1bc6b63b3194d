// The public surface of the gdnsq package, one namespace per layer.
export * from './engine';
export * as nn from './nn';
export * as models from './models';
export * as data from './data';
export * as optim from './optim';
export * as train from './train';
export * as quant from './quant';
export * as report from './report';
export * as deploy from './export';
export * as onnx from './export/onnx';
export * as experiment from './experiment';
export * as distributed from './distributed';
export * as runtime from './runtime';
