// Models by name, so the CLI and checkpoints can name a model and rebuild it from its config.
import { ModelArgs, Model } from './config';
import { cifarResNet, resnet18 } from './resnet';
import { SmallCNN } from './smallcnn';
import { mobileNetV2 } from './mobilenetv2';
import { vit } from './vit';

const BUILDERS: Record<string, (args: ModelArgs) => Model> = {
  resnet20: (a) => cifarResNet(20, a),
  resnet32: (a) => cifarResNet(32, a),
  resnet44: (a) => cifarResNet(44, a),
  resnet56: (a) => cifarResNet(56, a),
  resnet18: (a) => resnet18(a),
  smallcnn: (a) => new SmallCNN(a),
  mobilenetv2: (a) => mobileNetV2(a),
  vit: (a) => vit(a),
};

/** The models built for one input size (a graph with a fixed input shape): they take an imageSize argument. */
const SIZED = new Set(['mobilenetv2', 'vit']);

export const MODEL_NAMES: readonly string[] = Object.keys(BUILDERS);

/** Whether the model takes imageSize (square inputs of that many pixels; the others take any size). */
export function takesImageSize(name: string): boolean {
  return SIZED.has(name);
}

/**
 * Builds a freshly initialised model (from libtorch's global generator). args: inChannels
 * (default 3), numClasses (default 10; 1000 for resnet18), imageSize for mobilenetv2 and vit
 * (default 28 for one channel, else 32); a model's `config` is accepted as is.
 */
export function createModel(name: string, args: ModelArgs = {}): Model {
  const build = Object.prototype.hasOwnProperty.call(BUILDERS, name) ? BUILDERS[name] : undefined;
  if (!build) throw new Error(`unknown model '${name}' (known: ${MODEL_NAMES.join(', ')})`);
  return build(args);
}
