#!/usr/bin/env python3
"""PyTorch definitions of gdnsq's registry models mobilenetv2 and vit (src/models/mobilenetv2.ts,
src/models/vit.ts), written from the architecture, not generated from the graph: the same layers,
the same state-dict names, so a gdnsq checkpoint loads with strict=True and gives gdnsq's logits.
Needs PyTorch (Debian: python3-torch).

As a script (test/models/mobilenetv2.test.ts, vit.test.ts):
  torch_models.py CHECKPOINT INPUT   prints the eval-mode logits of the checkpoint (a gdnsq model
                                     file) on INPUT (a safetensors file with one tensor 'x') as JSON.
"""
import json
import struct
import sys

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

# (expansion t, output channels c, blocks n, first stride s): MOBILENETV2_STAGES of mobilenetv2.ts.
MOBILENETV2_STAGES = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 2, 1), (6, 96, 1, 1)]
MOBILENETV2_STEM, MOBILENETV2_HEAD = 16, 256
# VIT of vit.ts.
VIT = dict(patch=4, dim=64, depth=3, heads=4, mlp=128, eps=1e-6)


class ConvBN(nn.Module):
    def __init__(self, cin, cout, k, stride=1, groups=1, relu6=True):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.relu6 = relu6

    def forward(self, x):
        x = self.bn(self.conv(x))
        return F.relu6(x) if self.relu6 else x


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, t):
        super().__init__()
        hidden = cin * t
        if t != 1:
            self.expand = ConvBN(cin, hidden, 1)
        self.dw = ConvBN(hidden, hidden, 3, stride, groups=hidden)
        self.project = ConvBN(hidden, cout, 1, relu6=False)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        h = self.expand(x) if hasattr(self, 'expand') else x
        h = self.project(self.dw(h))
        return x + h if self.residual else h


class MobileNetV2(nn.Module):
    def __init__(self, in_channels, num_classes):
        super().__init__()
        self.stem = ConvBN(in_channels, MOBILENETV2_STEM, 3)
        blocks, width = [], MOBILENETV2_STEM
        for t, c, n, s in MOBILENETV2_STAGES:
            for i in range(n):
                blocks.append(InvertedResidual(width, c, s if i == 0 else 1, t))
                width = c
        self.blocks = nn.Sequential(*blocks)
        self.head = ConvBN(width, MOBILENETV2_HEAD, 1)
        self.classifier = nn.Linear(MOBILENETV2_HEAD, num_classes)

    def forward(self, x):
        x = self.head(self.blocks(self.stem(x)))
        return self.classifier(x.mean((2, 3)))


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        n, t, d = x.shape
        q, k, v = self.qkv(x).reshape(n, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        a = torch.softmax(q @ k.transpose(-2, -1) * (d // self.heads) ** -0.5, dim=-1)
        return self.proj((a @ v).transpose(1, 2).reshape(n, t, d))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim, heads, mlp, eps):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, mlp)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ViT(nn.Module):
    def __init__(self, in_channels, num_classes, image_size):
        super().__init__()
        c = VIT
        self.patch_embed = nn.Conv2d(in_channels, c['dim'], c['patch'], c['patch'])
        self.pos_embedding = nn.Parameter(torch.zeros(1, (image_size // c['patch']) ** 2, c['dim']))
        self.blocks = nn.Sequential(*[Block(c['dim'], c['heads'], c['mlp'], c['eps']) for _ in range(c['depth'])])
        self.norm = nn.LayerNorm(c['dim'], eps=c['eps'])
        self.head = nn.Linear(c['dim'], num_classes)

    def forward(self, x):
        x = self.patch_embed(x).flatten(2).transpose(1, 2) + self.pos_embedding
        return self.head(self.norm(self.blocks(x)).mean(1))


def build(card):
    """The module a gdnsq model card names (mobilenetv2 or vit)."""
    a = card['args']
    if card['model'] == 'mobilenetv2':
        return MobileNetV2(a['inChannels'], a['numClasses'])
    if card['model'] == 'vit':
        return ViT(a['inChannels'], a['numClasses'], a['imageSize'])
    raise SystemExit(f"torch_models.py: no PyTorch definition of '{card['model']}'")


DTYPES = {'F32': np.float32, 'F64': np.float64, 'I64': np.int64, 'I32': np.int32, 'U8': np.uint8}


def read_safetensors(path):
    """The published format: u64 header size, JSON header, raw little-endian tensor bytes."""
    with open(path, 'rb') as f:
        buf = f.read()
    (n,) = struct.unpack('<Q', buf[:8])
    header = json.loads(buf[8:8 + n])
    meta = header.pop('__metadata__', {})
    data = buf[8 + n:]
    tensors = {}
    for name, h in header.items():
        b, e = h['data_offsets']
        tensors[name] = torch.from_numpy(np.frombuffer(data[b:e], dtype=DTYPES[h['dtype']]).reshape(h['shape']).copy())
    return tensors, meta


def load(checkpoint):
    """A gdnsq FP model file as the PyTorch module it describes (eval mode), and its card."""
    state, meta = read_safetensors(checkpoint)
    card = json.loads(meta['gdnsq'])
    model = build(card)
    model.load_state_dict(state, strict=True)
    return model.eval(), card


if __name__ == '__main__':
    torch.set_num_threads(1)
    model, _ = load(sys.argv[1])
    x = read_safetensors(sys.argv[2])[0]['x']
    with torch.no_grad():
        print(json.dumps(model(x).tolist()))
