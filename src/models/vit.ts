// A tiny vision transformer (Dosovitskiy et al. 2021) for 28×28 and 32×32 images, written as a
// graph model (graph-writer.ts) like mobilenetv2.ts; its config ({ name: 'vit', inChannels,
// numClasses, imageSize }) rebuilds the same graph.
//
// Layout: patch embedding (conv, kernel = stride = VIT.patch: 7×7 or 8×8 tokens) → learned
// positional embedding (added) → VIT.depth pre-norm encoder blocks [x + proj(MHSA(norm1(x))),
// x + fc2(GELU(fc1(norm2(x))))] with a fused q/k/v Linear and VIT.heads heads → final LayerNorm →
// mean over tokens → Linear head. GELU is ONNX's Erf form, x·½·(1 + erf(x/√2)), as PyTorch
// exports nn.GELU; attention is Softmax(q·kᵀ / √(head width))·v.
// State-dict names are timm's: patch_embed, pos_embedding, blocks.<i>.{norm1, attn.qkv, attn.proj,
// norm2, mlp.fc1, mlp.fc2}, norm, head — those of the PyTorch definition in test/models/torch_models.py.
//
// Quantized by default (quantize()): every attn.qkv, attn.proj, mlp.fc1 and mlp.fc2 (weights per
// output channel; their inputs — LayerNorm outputs, attention outputs, GELU outputs — are signed,
// so calibrate() keeps the activation quantizers' lower bound b learnable).
// Kept FP by default: the patch embedding ('first conv') and the head ('last linear'), as quantize()
// prints; the positional embedding (a parameter added, no layer), the LayerNorms (modules
// quantize() does not wrap), and the weightless nodes, which quantize prints as "graph nodes kept
// FP": the two activation × activation MatMuls of each block (q·kᵀ and softmax·v) and the Softmax,
// which have no quantizer yet, and the Adds, Muls, Div, Erf, ReduceMean of residuals, GELU, pooling.
import * as init from '../nn/init';
import { Linear } from '../nn';
import { ModelArgs, SizedModelConfig, resolveSizedConfig } from './config';
import { GraphModel } from './graph';
import { GraphWriter } from './graph-writer';

export const VIT = { patch: 4, dim: 64, depth: 3, heads: 4, mlp: 128, eps: 1e-6 } as const;

function describe(c: SizedModelConfig): ReturnType<GraphWriter['finish']> {
  // LayerNormalization is an ONNX op from opset 17.
  const g = new GraphWriter(17);
  const { patch, dim: D, depth, heads: H, mlp, eps } = VIT;
  const grid = c.imageSize / patch, T = grid * grid, dh = D / H;
  let x = g.conv('patch_embed', g.input, c.inChannels, D, { kernel: patch, stride: patch, bias: true });
  x = g.op('Transpose', 'tokens', [g.op('Reshape', 'flatten', [x, g.ints([0, D, -1])])], { perm: [0, 2, 1] });
  x = g.op('Add', 'pos_add', [x, g.parameter('pos_embedding', [1, T, D])]);
  for (let i = 0; i < depth; i++) {
    const p = `blocks.${i}`;
    let h = g.linear(`${p}.attn.qkv`, g.layerNorm(`${p}.norm1`, x, D, eps), D, 3 * D, 'MatMul');
    // [N, T, 3D] → [3, N, H, T, dh] → q, k, v
    h = g.op('Transpose', `${p}.attn.heads`, [g.op('Reshape', `${p}.attn.split`, [h, g.ints([0, 0, 3, H, dh])])], { perm: [2, 0, 3, 1, 4] });
    const [q, k, v] = ['q', 'k', 'v'].map((n, j) => g.op('Gather', `${p}.attn.${n}`, [h, g.ints([j], [])], { axis: 0 }));
    const kT = g.op('Transpose', `${p}.attn.kT`, [k], { perm: [0, 1, 3, 2] });
    const scores = g.op('Mul', `${p}.attn.scale`, [g.op('MatMul', `${p}.attn.scores`, [q, kT]), g.scalar(1 / Math.sqrt(dh))]);
    const attn = g.op('Softmax', `${p}.attn.softmax`, [scores], { axis: -1 });
    let o = g.op('MatMul', `${p}.attn.mix`, [attn, v]);
    o = g.op('Reshape', `${p}.attn.merge`, [g.op('Transpose', `${p}.attn.unheads`, [o], { perm: [0, 2, 1, 3] }), g.ints([0, 0, D])]);
    x = g.op('Add', `${p}.add1`, [x, g.linear(`${p}.attn.proj`, o, D, D, 'MatMul')]);
    h = g.linear(`${p}.mlp.fc1`, g.layerNorm(`${p}.norm2`, x, D, eps), D, mlp, 'MatMul');
    const erf = g.op('Erf', `${p}.mlp.erf`, [g.op('Div', `${p}.mlp.div`, [h, g.scalar(Math.SQRT2)])]);
    h = g.op('Mul', `${p}.mlp.gelu`, [g.op('Mul', `${p}.mlp.gate`, [h, g.op('Add', `${p}.mlp.erf1`, [erf, g.scalar(1)])]), g.scalar(0.5)]);
    x = g.op('Add', `${p}.add2`, [x, g.linear(`${p}.mlp.fc2`, h, mlp, D, 'MatMul')]);
  }
  x = g.op('ReduceMean', 'pool', [g.layerNorm('norm', x, D, eps)], { axes: [1], keepdims: 0 });
  const y = g.linear('head', x, D, c.numClasses, 'Gemm');
  return g.finish([c.inChannels, c.imageSize, c.imageSize], y);
}

/** A freshly initialised ViT (timm's init: Linear weights and the positional embedding N(0, 0.02), biases 0; the patch conv PyTorch's default). */
export function vit(args: ModelArgs = {}): GraphModel {
  const config = resolveSizedConfig('vit', args, { inChannels: 3, numClasses: 10 },
    (s) => (s % VIT.patch !== 0 || s < 2 * VIT.patch ? `is not a multiple of the patch size ${VIT.patch} of at least ${2 * VIT.patch}` : null));
  const m = new GraphModel(describe(config), config);
  for (const l of m.modules()) {
    if (l instanceof Linear) { init.normal(l.weight, 0, 0.02); init.zeros(l.bias!); }
  }
  init.normal(m.namedParameters().find(([n]) => n === 'pos_embedding')![1], 0, 0.02);
  return m;
}
