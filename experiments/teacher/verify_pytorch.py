#!/usr/bin/env python3
"""Loads a gdnsq FP checkpoint into a PyTorch module of the same definition (torchvision-style
CIFAR ResNet, test/models/torch-reference.py; mobilenetv2 and vit, test/models/torch_models.py)
and evaluates it on the Fashion-MNIST test set. Shows that the file is a plain state dict
PyTorch loads with strict=True. Needs python3-torch.

usage: verify_pytorch.py CHECKPOINT [DATA_DIR]"""
import gzip, importlib.util, json, os, struct, sys
import numpy as np
import torch

here = os.path.dirname(os.path.abspath(__file__))


def module(name, file):
    spec = importlib.util.spec_from_file_location(name, os.path.join(here, '..', '..', 'test', 'models', file))
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    return m


ref = module('ref', 'torch-reference.py')
archs = module('torch_models', 'torch_models.py')

read_safetensors = archs.read_safetensors


def read_idx(path):
    with gzip.open(path, 'rb') as f:
        raw = f.read()
    ndim = raw[3]
    dims = struct.unpack('>' + 'I' * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


ckpt = sys.argv[1]
data_dir = sys.argv[2] if len(sys.argv) > 2 else '/usr/share/datasets/fashion-mnist'
state, meta = read_safetensors(ckpt)
card = json.loads(meta['gdnsq'])
if card['model'].startswith('resnet'):
    depth = int(card['model'].replace('resnet', ''))
    n = (depth - 2) // 6
    model = ref.ResNet([n] * 3, [16, 32, 64], card['args']['inChannels'], card['args']['numClasses'], imagenet=False)
else:
    model = archs.build(card)
model.load_state_dict(state, strict=True)
model.eval()
torch.set_num_threads(int(os.environ.get('THREADS', '2')))
x = read_idx(os.path.join(data_dir, 't10k-images-idx3-ubyte.gz')).astype(np.float32) / 255.0
y = torch.from_numpy(read_idx(os.path.join(data_dir, 't10k-labels-idx1-ubyte.gz')).astype(np.int64))
mean, std = card['normalize']['mean'][0], card['normalize']['std'][0]
x = torch.from_numpy((x - mean) / std).unsqueeze(1)
correct = 0
with torch.no_grad():
    for i in range(0, len(x), 500):
        correct += (model(x[i:i + 500]).argmax(1) == y[i:i + 500]).sum().item()
print(json.dumps({'model': card['model'], 'torch': torch.__version__, 'top1': correct / len(x), 'n': len(x), 'strict_load': True}))
