// MobileNetV2 (Sandler et al. 2018) sized for 28×28 and 32×32 images, written as a graph model
// (graph-writer.ts) so quantize(), ONNX export, packed files and every command treat it as they
// treat an imported graph; its config ({ name: 'mobilenetv2', inChannels, numClasses, imageSize })
// rebuilds the same graph, so a checkpoint card needs no description.
//
// Layout: stem conv 3×3 stride 1 (small images keep their resolution) → inverted residual
// blocks (1×1 expand, depthwise 3×3, ReLU6 after both, 1×1 linear projection, identity residual
// when stride 1 and the width stays) in stages (t, c, n, s) of STAGES, stride 2 at two of them
// (28 → 14 → 7, 32 → 16 → 8) → 1×1 conv head → global average pool → Linear classifier.
// State-dict names: stem.{conv,bn}, blocks.<i>.{expand,dw,project}.{conv,bn}, head.{conv,bn},
// classifier — those of the PyTorch definition in test/models/torch_models.py.
//
// Quantized by default (quantize()): every expand, depthwise, projection and head conv, the
// depthwise ones per output channel like the rest (one step per channel = one per filter).
// Kept FP by default: the stem conv ('first conv') and the classifier ('last linear'), as
// quantize() prints; BatchNorm (kept, not folded), ReLU6 (Clip), the residual Adds and the
// pooling have no weights: their outputs are what the next layer's input quantizer sees
// (quantize prints them as "graph nodes kept FP").
import * as init from '../nn/init';
import { Conv2d, Linear } from '../nn';
import { ModelArgs, SizedModelConfig, resolveSizedConfig } from './config';
import { GraphModel } from './graph';
import { GraphWriter } from './graph-writer';

/** (expansion t, output channels c, blocks n, stride of the first block s), as Table 2 of the paper. */
export const MOBILENETV2_STAGES: readonly (readonly [number, number, number, number])[] = [
  [1, 16, 1, 1],
  [6, 24, 2, 2],
  [6, 32, 3, 2],
  [6, 64, 2, 1],
  [6, 96, 1, 1],
];
export const MOBILENETV2_STEM = 16;
export const MOBILENETV2_HEAD = 256;

function describe(c: SizedModelConfig): ReturnType<GraphWriter['finish']> {
  const g = new GraphWriter(13);
  const zero = g.scalar(0), six = g.scalar(6);
  // Conv → BatchNorm (→ ReLU6): one unit under `path`.
  const unit = (path: string, x: string, cin: number, cout: number, k: number, stride: number, groups: number, relu6: boolean): string => {
    const y = g.batchNorm(`${path}.bn`, g.conv(`${path}.conv`, x, cin, cout, { kernel: k, stride, padding: (k - 1) / 2, groups }), cout);
    return relu6 ? g.op('Clip', `${path}.relu6`, [y, zero, six]) : y;
  };
  let x = unit('stem', g.input, c.inChannels, MOBILENETV2_STEM, 3, 1, 1, true);
  let width = MOBILENETV2_STEM, b = 0;
  for (const [t, cout, n, s] of MOBILENETV2_STAGES) {
    for (let i = 0; i < n; i++, b++) {
      const p = `blocks.${b}`, stride = i === 0 ? s : 1, hidden = width * t;
      let h = t === 1 ? x : unit(`${p}.expand`, x, width, hidden, 1, 1, 1, true);
      h = unit(`${p}.dw`, h, hidden, hidden, 3, stride, hidden, true);
      h = unit(`${p}.project`, h, hidden, cout, 1, 1, 1, false);
      x = stride === 1 && width === cout ? g.op('Add', `${p}.add`, [x, h]) : h;
      width = cout;
    }
  }
  x = unit('head', x, width, MOBILENETV2_HEAD, 1, 1, 1, true);
  x = g.op('Flatten', 'flatten', [g.op('GlobalAveragePool', 'pool', [x])], { axis: 1 });
  const y = g.linear('classifier', x, MOBILENETV2_HEAD, c.numClasses, 'Gemm');
  return g.finish([c.inChannels, c.imageSize, c.imageSize], y);
}

/** A freshly initialised MobileNetV2 (torchvision's init: conv He-normal fan_out, classifier N(0, 0.01), BatchNorm 1 and 0). */
export function mobileNetV2(args: ModelArgs = {}): GraphModel {
  const config = resolveSizedConfig('mobilenetv2', args, { inChannels: 3, numClasses: 10 }, (s) => (s < 8 ? 'is too small (at least 8: two stride-2 stages)' : null));
  const m = new GraphModel(describe(config), config);
  for (const l of m.modules()) {
    if (l instanceof Conv2d) init.kaimingNormal(l.weight, { mode: 'fan_out', nonlinearity: 'relu' });
    else if (l instanceof Linear) { init.normal(l.weight, 0, 0.01); init.zeros(l.bias!); }
  }
  return m;
}
