// A small CNN for fast tests and demos: three conv-BN-ReLU stages (16, 32, 32 channels, the
// first two followed by 2×2 max pooling), global average pooling and a linear classifier.
// Works for any input of at least 8×8 pixels.
import { Tensor, scope } from '../engine';
import { Module, Conv2d, BatchNorm2d, ReLU, MaxPool2d, AdaptiveAvgPool2d, Linear, chain } from '../nn';
import { Model, ModelArgs, ModelConfig, resolveConfig } from './config';

export class SmallCNN extends Module implements Model {
  readonly config: ModelConfig;
  declare readonly fc: Module;

  constructor(args: ModelArgs = {}) {
    super();
    this.config = resolveConfig('smallcnn', args, { inChannels: 3, numClasses: 10 });
    const widths = [this.config.inChannels, 16, 32, 32];
    for (let k = 1; k <= 3; k++) {
      this.registerModule(`conv${k}`, new Conv2d(widths[k - 1], widths[k], 3, { padding: 1, bias: false }));
      this.registerModule(`bn${k}`, new BatchNorm2d(widths[k]));
      this.registerModule(`relu${k}`, new ReLU());
      if (k < 3) this.registerModule(`pool${k}`, new MaxPool2d(2));
    }
    this.registerModule('avgpool', new AdaptiveAvgPool2d(1));
    this.registerModule('fc', new Linear(widths[3], this.config.numClasses));
  }

  override forward(x: Tensor): Tensor {
    if (x.ndim !== 4 || x.size(2) < 8 || x.size(3) < 8) {
      throw new Error(`SmallCNN: expected input [N, ${this.config.inChannels}, H>=8, W>=8], got [${x.shape.join(', ')}]`);
    }
    return scope(() => {
      const body = this.namedChildren().filter(([n]) => n !== 'fc').map(([, m]) => m);
      return this.fc.call(chain(x, body).flatten(1));
    });
  }
}
