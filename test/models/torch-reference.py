#!/usr/bin/env python3
"""Regenerates the PyTorch reference logits hard-coded in test/models/torch-weights.test.ts.

Offline tool (the tests never run Python): builds torchvision's ResNet-18 and a CIFAR
ResNet-20 with torchvision's module layout (option-B shortcuts), fills every state-dict entry
with the closed-form values that the test also computes (see `fill`), and prints the
eval-mode logits for the closed-form input. Needs PyTorch (Debian: python3-torch).
"""
import math
import numpy as np
import torch
from torch import nn


def conv3x3(i, o, stride=1):
    return nn.Conv2d(i, o, kernel_size=3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):  # torchvision.models.resnet.BasicBlock
    def __init__(self, inplanes, planes, stride=1):
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class ResNet(nn.Module):  # torchvision.models.resnet.ResNet with a CIFAR stem option
    def __init__(self, blocks, widths, in_channels, num_classes, imagenet):
        super().__init__()
        w = widths[0]
        self.conv1 = nn.Conv2d(in_channels, w, 7, 2, 3, bias=False) if imagenet else conv3x3(in_channels, w)
        self.bn1 = nn.BatchNorm2d(w)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1) if imagenet else nn.Identity()
        inplanes = w
        for k, (n, planes) in enumerate(zip(blocks, widths)):
            layer = []
            for i in range(n):
                layer.append(BasicBlock(inplanes, planes, 2 if i == 0 and k > 0 else 1))
                inplanes = planes
            setattr(self, f'layer{k + 1}', nn.Sequential(*layer))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(inplanes, num_classes)
        self.stages = len(blocks)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for k in range(self.stages):
            x = getattr(self, f'layer{k + 1}')(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))


def unit(n, k):
    """n values in [-1, 1): a 32-bit integer hash of (element j, stream k), computed exactly
    (the test computes the same with Math.imul)."""
    m = np.uint64(0xFFFFFFFF)
    h = (np.arange(n, dtype=np.uint64) * np.uint64(0x9E3779B1) + np.uint64(k * 0x7F4A7C15)) & m
    h ^= h >> np.uint64(16)
    h = (h * np.uint64(0x85EBCA6B)) & m
    h ^= h >> np.uint64(13)
    return h.astype(np.float64) / 2 ** 32 * 2 - 1


def fill(model):
    """State-dict entry k, element j: u = unit(j, k); weights of 2+ dims u·√(3/fan_in), BN
    weights 1 + 0.2 u, biases 0.1 u, running means 0.1 u, running variances 1 + 0.5 u,
    num_batches_tracked 7."""
    sd = model.state_dict()
    with torch.no_grad():
        for k, (name, t) in enumerate(sd.items()):
            if name.endswith('num_batches_tracked'):
                t.fill_(7)
                continue
            u = unit(t.numel(), k)
            if t.dim() >= 2:
                v = u * math.sqrt(3 / (t.numel() / t.shape[0]))
            elif name.endswith('running_var'):
                v = 1 + 0.5 * u
            elif name.endswith('weight'):
                v = 1 + 0.2 * u
            else:
                v = 0.1 * u
            t.copy_(torch.from_numpy(v.astype(np.float32)).reshape(t.shape))


def closed_form_input(shape):
    return torch.from_numpy(unit(int(np.prod(shape)), 1000).astype(np.float32)).reshape(shape)


def report(label, model, shape):
    fill(model)
    model.eval()
    with torch.no_grad():
        y = model(closed_form_input(shape))
    print(f'{label}: {len(model.state_dict())} keys, {sum(p.numel() for p in model.parameters())} parameters')
    print('  [' + ', '.join(f'{v:.7g}' for v in y.flatten().tolist()) + ']')


if __name__ == '__main__':
    torch.manual_seed(0)
    report('resnet20 (3 -> 10), input [2, 3, 32, 32]', ResNet([3, 3, 3], [16, 32, 64], 3, 10, False), [2, 3, 32, 32])
    report('resnet18 (1 -> 10), input [2, 1, 64, 64]', ResNet([2, 2, 2, 2], [64, 128, 256, 512], 1, 10, True), [2, 1, 64, 64])
    tv = ResNet([2, 2, 2, 2], [64, 128, 256, 512], 3, 1000, True)
    print('resnet18 (3 -> 1000):', sum(p.numel() for p in tv.parameters()), 'parameters,', len(tv.state_dict()), 'keys')
