#!/usr/bin/env python3
"""Eager PyTorch baseline for `gdnsq bench train`: the same ResNet-20 (torchvision layout,
option-B shortcuts, test/models/torch-reference.py), synthetic 3x32x32, batch 128, SGD with
momentum. Prints one JSON line. Optional: needs PyTorch (Debian: python3-torch)."""
import importlib.util, json, os, sys, time
import torch

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location('ref', os.path.join(here, '..', 'test', 'models', 'torch-reference.py'))
ref = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ref)

threads, batch, iters = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(threads)
torch.manual_seed(0)
model = ref.ResNet([3, 3, 3], [16, 32, 64], 3, 10, imagenet=False).train()
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
x = torch.randn(batch, 3, 32, 32)
y = torch.randint(0, 10, (batch,))

def step():
    opt.zero_grad(set_to_none=True)
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()

for _ in range(3):
    step()
times = []
for _ in range(iters):
    t0 = time.perf_counter()
    step()
    times.append(time.perf_counter() - t0)
times.sort()
med = times[len(times) // 2]
print(json.dumps({'torch': torch.__version__, 'step_s': med, 'img_per_s': batch / med}))
