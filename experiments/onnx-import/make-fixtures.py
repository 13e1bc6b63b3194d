#!/usr/bin/python3
"""Builds the ONNX fixtures of the import tests with Debian's PyTorch (python3-torch 1.13):
a torchvision-style ResNet, a MobileNetV2-style net and a ViT made of nn.TransformerEncoderLayer,
each trained briefly on Fashion-MNIST and exported the way users export (torch.onnx.export, dynamic
batch). Writes test/fixtures/onnx/<name>.onnx and expected.json: PyTorch's logits and top-1 on the
first N test images (pixels in [0, 1]), which test/export/onnx-import.test.ts compares with.

Nobody here wrote these models for gdnsq: they are plain PyTorch modules, exported as PyTorch does,
so the importer sees what a user's file holds (Shape/Gather/Concat chains, folded BatchNorm,
Clip for ReLU6, the Erf form of GELU, LayerNormalization or its ReduceMean pattern).

Usage: /usr/bin/python3 experiments/onnx-import/make-fixtures.py [out_dir] [--only name,...]
"""
import gzip, json, os, sys, time
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith('--') else os.path.join(ROOT, 'test', 'fixtures', 'onnx')
DATA = '/usr/share/datasets/fashion-mnist'
N_EXPECTED = 64
torch.manual_seed(0)
torch.set_num_threads(2)


def idx(name):
    with gzip.open(os.path.join(DATA, name)) as f:
        b = f.read()
    ndim = b[3]
    dims = [int.from_bytes(b[4 + 4 * i:8 + 4 * i], 'big') for i in range(ndim)]
    return np.frombuffer(b, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def block_bn(cin, cout, stride):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout))


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (self.downsample(x) if self.downsample is not None else x))


class ResNet(nn.Module):
    """torchvision's layout (conv1/bn1/maxpool/layerN/avgpool/fc), small; normalization inside."""
    def __init__(self):
        super().__init__()
        self.register_buffer('mean', torch.tensor([0.286]).view(1, 1, 1, 1))
        self.register_buffer('std', torch.tensor([0.353]).view(1, 1, 1, 1))
        self.conv1 = nn.Conv2d(1, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = nn.Sequential(BasicBlock(16, 16, 1))
        self.layer2 = nn.Sequential(BasicBlock(16, 32, 2))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        x = (x - self.mean) / self.std
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        x = self.layer2(self.layer1(x))
        x = self.avgpool(x)
        # view(size(0), -1): PyTorch exports it as a Shape → Gather → Unsqueeze → Concat chain.
        return self.fc(x.view(x.size(0), -1))


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hid = cin * expand
        self.use_res = stride == 1 and cin == cout
        self.conv = nn.Sequential(
            nn.Conv2d(cin, hid, 1, bias=False), nn.BatchNorm2d(hid), nn.ReLU6(inplace=True),
            nn.Conv2d(hid, hid, 3, stride, 1, groups=hid, bias=False), nn.BatchNorm2d(hid), nn.ReLU6(inplace=True),
            nn.Conv2d(hid, cout, 1, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        return x + self.conv(x) if self.use_res else self.conv(x)


class MobileNetV2(nn.Module):
    """torchvision's MobileNetV2 shape (features/classifier), a few blocks, plus a hardswish/SE-style gate."""
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Sequential(nn.Conv2d(1, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU6(inplace=True)),
            InvertedResidual(16, 16, 1, 2), InvertedResidual(16, 24, 2, 3), InvertedResidual(24, 24, 1, 3),
            nn.Sequential(nn.Conv2d(24, 64, 1, bias=False), nn.BatchNorm2d(64), nn.Hardswish()))
        self.gate = nn.Sequential(nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 64), nn.Hardsigmoid())
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(64, 10))

    def forward(self, x):
        x = self.features(x)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        x = x * self.gate(x)
        return self.classifier(x)


class ViT(nn.Module):
    """Patch embedding (a strided conv), class token, positional tensor, nn.TransformerEncoderLayer × 2 (GELU), head."""
    def __init__(self, dim=32, depth=2, heads=4, patch=7):
        super().__init__()
        self.patch_embed = nn.Conv2d(1, dim, patch, patch)
        n = (28 // patch) ** 2
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embedding = nn.Parameter(torch.randn(1, n + 1, dim) * 0.02)
        layer = nn.TransformerEncoderLayer(dim, heads, dim * 2, dropout=0.1, activation='gelu', batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, 10)

    def forward(self, x):
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        cls = self.cls_token.expand(x.shape[0], -1, -1)
        x = torch.cat([cls, x], dim=1) + self.pos_embedding
        x = self.norm(self.encoder(x))
        return self.head(x[:, 0])


class OpZoo(nn.Module):
    """Untrained: the operators the three models above do not write (dilated and grouped convs,
    Sigmoid, Tanh, split → Split, Slice, Pow, tanh-GELU, average pooling without the padding, ceil-mode
    max pooling, Softmax over channels, Abs/Sqrt, ReLU6, LogSoftmax)."""
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3, padding=2, dilation=2)
        self.gconv = nn.Conv2d(8, 8, 3, padding=1, groups=2, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.pool = nn.AvgPool2d(3, 2, 1, count_include_pad=False)
        self.mpool = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.fc = nn.Linear(8 * 7 * 7, 10)

    def forward(self, x):
        x = self.conv(x)
        x = torch.sigmoid(x) * torch.tanh(x)
        a, b = torch.split(x, [3, 5], dim=1)
        x = self.bn(self.gconv(torch.cat([b, a.pow(2)], 1)))
        x = self.mpool(self.pool(F.gelu(x, approximate='tanh')))
        x = x.softmax(dim=1) + x.abs().sqrt()
        return F.log_softmax(self.fc(F.relu6(torch.flatten(x, 1))), -1)


def train(model, x, y, epochs, lr):
    if epochs == 0:
        model.eval()
        return
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * (len(x) // 128)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps)
    model.train()
    for e in range(epochs):
        perm = torch.randperm(len(x))
        for i in range(len(x) // 128):
            b = perm[i * 128:(i + 1) * 128]
            loss = F.cross_entropy(model(x[b]), y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    model.eval()


def top1(model, x, y):
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def export(model, name, opset, fold):
    path = os.path.join(OUT, f'{name}.onnx')
    # Folding on, PyTorch folds BatchNorm into the convs (EVAL); off, TrainingMode.PRESERVE keeps
    # BatchNormalization nodes (the module is in eval mode, so they use the running statistics).
    mode = torch.onnx.TrainingMode.EVAL if fold else torch.onnx.TrainingMode.PRESERVE
    # The fast path of nn.TransformerEncoderLayer (a fused op ONNX has not) is off while grads are on.
    with torch.enable_grad():
        torch.onnx.export(model, torch.zeros(2, 1, 28, 28), path, opset_version=opset, do_constant_folding=fold, training=mode,
                          input_names=['input'], output_names=['logits'],
                          dynamic_axes={'input': {0: 'batch'}, 'logits': {0: 'batch'}})
    return path


def main():
    os.makedirs(OUT, exist_ok=True)
    xtr = torch.from_numpy(idx('train-images-idx3-ubyte.gz').astype(np.float32) / 255).unsqueeze(1)
    ytr = torch.from_numpy(idx('train-labels-idx1-ubyte.gz').astype(np.int64))
    xte = torch.from_numpy(idx('t10k-images-idx3-ubyte.gz').astype(np.float32) / 255).unsqueeze(1)
    yte = torch.from_numpy(idx('t10k-labels-idx1-ubyte.gz').astype(np.int64))
    sub = torch.randperm(len(xtr))[:12800]
    # (model, file name, opset, constant folding): folding off keeps BatchNormalization nodes
    # and the Shape chains; on, PyTorch folds BatchNorm into the convs.
    specs = [(ResNet, 'resnet', 13, False, 2, 3e-3), (MobileNetV2, 'mobilenetv2', 15, True, 2, 5e-3),
             (ViT, 'vit', 17, True, 3, 3e-3), (None, 'vit-opset14', 14, True, 0, 0), (OpZoo, 'opzoo', 17, False, 0, 0)]
    expected = {'images': N_EXPECTED, 'source': 'Fashion-MNIST t10k, first images, pixels / 255', 'torch': torch.__version__, 'models': {}}
    # --only a,b: rebuild those fixtures, keep the others' entries.
    only = sys.argv[sys.argv.index('--only') + 1].split(',') if '--only' in sys.argv else None
    if only:
        with open(os.path.join(OUT, 'expected.json')) as f:
            expected = json.load(f)
        specs = [sp for sp in specs if sp[1] in only]
    vit = None
    for cls, name, opset, fold, epochs, lr in specs:
        t0 = time.time()
        if cls is None:
            model = vit  # the same ViT at opset 14: LayerNorm as its ReduceMean pattern
        else:
            torch.manual_seed(1)
            model = cls()
            train(model, xtr[sub], ytr[sub], epochs, lr)
        if name == 'vit':
            vit = model
        path = export(model, name, opset, fold)
        with torch.no_grad():
            logits = model(xte[:N_EXPECTED])
        acc = top1(model, xte[:2000], yte[:2000])
        expected['models'][name] = {
            'opset': opset, 'constant_folding': fold, 'top1_test2000': acc,
            'logits': [[round(float(v), 6) for v in row] for row in logits],
            'top1': [int(v) for v in logits.argmax(1)],
            'labels': [int(v) for v in yte[:N_EXPECTED]],
            'params': sum(p.numel() for p in model.parameters()),
        }
        print(f'{name}: opset {opset}, {os.path.getsize(path)} bytes, top-1 {100 * acc:.2f}% on 2000 test images ({time.time() - t0:.1f} s)')
    with open(os.path.join(OUT, 'expected.json'), 'w') as f:
        json.dump(expected, f)


if __name__ == '__main__':
    main()
