#!/usr/bin/env python3
"""Writes a PyTorch ResNet state dict the way a PyTorch user has one, for `gdnsq import`.

usage: torch-export.py OUT_DIR [--from GDNSQ_CHECKPOINT] [--in-channels C] [--classes K] [--depth D]

Builds the torchvision-style CIFAR ResNet of test/models/torch-reference.py, either with random
weights and running statistics (seeded) or with the weights of a gdnsq FP checkpoint, then writes
OUT_DIR/state_dict.pt (torch.save of model.state_dict(), PyTorch's own zip format),
OUT_DIR/state_dict.safetensors (the same tensors, written by hand: u64 header length, JSON header,
raw bytes; no gdnsq metadata), and OUT_DIR/reference.safetensors with an input batch `x` and
PyTorch's eval-mode logits `y`. Needs PyTorch (Debian: python3-torch)."""
import argparse, importlib.util, json, os, struct
import numpy as np
import torch

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.join(here, '..', '..')
spec = importlib.util.spec_from_file_location('ref', os.path.join(root, 'test', 'models', 'torch-reference.py'))
ref = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ref)

NAMES = {torch.float32: 'F32', torch.float64: 'F64', torch.int64: 'I64', torch.int32: 'I32', torch.uint8: 'U8'}
DTYPES = {'F32': np.float32, 'F64': np.float64, 'I64': np.int64, 'I32': np.int32, 'U8': np.uint8}


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for k, t in tensors.items():
        b = t.detach().contiguous().numpy().tobytes()
        header[k] = {'dtype': NAMES[t.dtype], 'shape': list(t.shape), 'data_offsets': [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h + b''.join(blobs))


def read_safetensors(path):
    buf = open(path, 'rb').read()
    (n,) = struct.unpack('<Q', buf[:8])
    header = json.loads(buf[8:8 + n])
    header.pop('__metadata__', None)
    return {k: torch.from_numpy(np.frombuffer(buf[8 + n + h['data_offsets'][0]:8 + n + h['data_offsets'][1]],
                                              dtype=DTYPES[h['dtype']]).reshape(h['shape']).copy()) for k, h in header.items()}


ap = argparse.ArgumentParser()
ap.add_argument('out')
ap.add_argument('--from', dest='src')
ap.add_argument('--in-channels', type=int, default=1)
ap.add_argument('--classes', type=int, default=10)
ap.add_argument('--depth', type=int, default=20)
a = ap.parse_args()
torch.manual_seed(0)
n = (a.depth - 2) // 6
model = ref.ResNet([n] * 3, [16, 32, 64], a.in_channels, a.classes, imagenet=False)
if a.src:
    model.load_state_dict(read_safetensors(a.src), strict=True)
else:  # random running statistics, so BatchNorm in eval mode is not the identity
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.8, 1.2)
            m.bias.data.uniform_(-0.1, 0.1)
            m.num_batches_tracked.fill_(3)
model.eval()
os.makedirs(a.out, exist_ok=True)
torch.save(model.state_dict(), os.path.join(a.out, 'state_dict.pt'))
write_safetensors(os.path.join(a.out, 'state_dict.safetensors'), model.state_dict())
x = torch.randn(4, a.in_channels, 28, 28)
with torch.no_grad():
    y = model(x)
write_safetensors(os.path.join(a.out, 'reference.safetensors'), {'x': x, 'y': y})
print(json.dumps({'torch': torch.__version__, 'keys': len(model.state_dict())}))
