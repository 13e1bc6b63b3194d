// ResNets with torchvision's module names (conv1, bn1, layer{K}.{i}.conv1, ...downsample.0/1,
// fc), so state dicts load to and from torchvision as they are:
// - CIFAR ResNet-(6n+2) (He et al. 2016, §4.2): 3×3 stem to 16 channels, three stages of n
//   BasicBlocks at 16/32/64 channels (stride 2 entering stages 2 and 3), global average pool,
//   fc. Where the shape changes the shortcut is a 1×1 conv + BN ("option B").
// - ImageNet ResNet-18, exactly torchvision.models.resnet18.
import { Tensor, scope } from '../engine';
import { Module, Conv2d, BatchNorm2d, ReLU, MaxPool2d, AdaptiveAvgPool2d, Linear, Sequential, chain, init } from '../nn';
import { Model, ModelArgs, ModelConfig, resolveConfig } from './config';

const conv3x3 = (inPlanes: number, outPlanes: number, stride = 1): Conv2d =>
  new Conv2d(inPlanes, outPlanes, 3, { stride, padding: 1, bias: false });
const conv1x1 = (inPlanes: number, outPlanes: number, stride = 1): Conv2d =>
  new Conv2d(inPlanes, outPlanes, 1, { stride, bias: false });

export class BasicBlock extends Module {
  // Children are typed Module: the quantizer swaps convolutions for its own layers.
  declare readonly conv1: Module;
  declare readonly bn1: Module;
  declare readonly relu: Module;
  declare readonly conv2: Module;
  declare readonly bn2: Module;
  declare readonly downsample?: Module;

  constructor(inPlanes: number, planes: number, stride = 1) {
    super();
    this.registerModule('conv1', conv3x3(inPlanes, planes, stride));
    this.registerModule('bn1', new BatchNorm2d(planes));
    this.registerModule('relu', new ReLU());
    this.registerModule('conv2', conv3x3(planes, planes));
    this.registerModule('bn2', new BatchNorm2d(planes));
    if (stride !== 1 || inPlanes !== planes) {
      this.registerModule('downsample', new Sequential(conv1x1(inPlanes, planes, stride), new BatchNorm2d(planes)));
    }
  }

  override forward(x: Tensor): Tensor {
    return scope(() => {
      const out = chain(x, [this.conv1, this.bn1, this.relu, this.conv2, this.bn2]);
      const identity = this.downsample ? this.downsample.call(x) : x;
      return this.relu.call(out.add(identity));
    });
  }
}

interface ResNetSpec { stem: 'cifar' | 'imagenet'; blocks: number[]; widths: number[] }

export class ResNet extends Module implements Model {
  readonly config: ModelConfig;
  declare readonly fc: Module;

  constructor(spec: ResNetSpec, config: ModelConfig) {
    super();
    this.config = config;
    let inPlanes = spec.widths[0];
    if (spec.stem === 'imagenet') {
      this.registerModule('conv1', new Conv2d(config.inChannels, inPlanes, 7, { stride: 2, padding: 3, bias: false }));
    } else {
      this.registerModule('conv1', conv3x3(config.inChannels, inPlanes));
    }
    this.registerModule('bn1', new BatchNorm2d(inPlanes));
    this.registerModule('relu', new ReLU());
    if (spec.stem === 'imagenet') this.registerModule('maxpool', new MaxPool2d(3, { stride: 2, padding: 1 }));
    spec.blocks.forEach((n, k) => {
      const planes = spec.widths[k];
      const layer = new Sequential();
      for (let i = 0; i < n; i++) {
        layer.append(new BasicBlock(inPlanes, planes, i === 0 && k > 0 ? 2 : 1));
        inPlanes = planes;
      }
      this.registerModule(`layer${k + 1}`, layer);
    });
    this.registerModule('avgpool', new AdaptiveAvgPool2d(1));
    this.registerModule('fc', new Linear(inPlanes, config.numClasses));
    // torchvision's initialisation: He normal (fan_out) for convolutions; BN 1/0 and the
    // Linear default come from the layers themselves.
    for (const m of this.modules()) {
      if (m instanceof Conv2d) init.kaimingNormal(m.weight, { mode: 'fan_out', nonlinearity: 'relu' });
    }
  }

  override forward(x: Tensor): Tensor {
    return scope(() => {
      const body = this.namedChildren().filter(([n]) => n !== 'fc').map(([, m]) => m);
      const features = chain(x, body);
      return this.fc.call(features.flatten(1));
    });
  }
}

/** CIFAR ResNet of depth 6n+2 (20, 32, 44, 56, 110, ...). */
export function cifarResNet(depth: number, args: ModelArgs = {}): ResNet {
  const name = `resnet${depth}`;
  if (!Number.isInteger(depth) || depth < 8 || (depth - 2) % 6 !== 0) {
    throw new Error(`cifarResNet: depth must be 6n+2 with n >= 1 (20, 32, 44, 56, ...), got ${depth}`);
  }
  const n = (depth - 2) / 6;
  const config = resolveConfig(name, args, { inChannels: 3, numClasses: 10 });
  return new ResNet({ stem: 'cifar', blocks: [n, n, n], widths: [16, 32, 64] }, config);
}

/** torchvision's ResNet-18 (11,689,512 parameters with 3 input channels and 1000 classes). */
export function resnet18(args: ModelArgs = {}): ResNet {
  const config = resolveConfig('resnet18', args, { inChannels: 3, numClasses: 1000 });
  return new ResNet({ stem: 'imagenet', blocks: [2, 2, 2, 2], widths: [64, 128, 256, 512] }, config);
}
