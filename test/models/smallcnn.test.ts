import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, F, scope, manualSeed } from '../../src/engine';
import { SmallCNN } from '../../src/models';

test('SmallCNN: parameter count by hand, forward shapes for inputs from 8×8 up', () => {
  manualSeed(0);
  const m = new SmallCNN({ inChannels: 1, numClasses: 10 });
  // convs 1·16·9 + 16·32·9 + 32·32·9 = 144 + 4608 + 9216, BN 2·(16 + 32 + 32) = 160, fc 32·10 + 10
  assert.equal(m.numParameters(), 144 + 4608 + 9216 + 160 + 330);
  assert.deepEqual(Object.keys(m.stateDict()).filter((k) => !k.includes('bn')), ['conv1.weight', 'conv2.weight', 'conv3.weight', 'fc.weight', 'fc.bias']);
  scope(() => {
    for (const [h, w] of [[8, 8], [9, 13], [28, 28], [32, 32]]) {
      assert.deepEqual(m.forward(Tensor.randn([2, 1, h, w])).shape, [2, 10], `${h}x${w}`);
    }
  });
  assert.throws(() => scope(() => m.forward(Tensor.randn([2, 1, 7, 8]))), { message: 'SmallCNN: expected input [N, 1, H>=8, W>=8], got [2, 1, 7, 8]' });
  assert.throws(() => scope(() => m.forward(Tensor.randn([2, 3, 8, 8]))), { message: 'Conv2d: expected input [N, 1, H, W], got [2, 3, 8, 8]' });
  m.dispose();
});

test('SmallCNN: gradients reach every parameter; eval output does not depend on the batch', () => {
  manualSeed(1);
  const m = new SmallCNN({ inChannels: 3, numClasses: 5 });
  assert.deepEqual(m.config, { name: 'smallcnn', inChannels: 3, numClasses: 5 });
  scope(() => F.crossEntropy(m.forward(Tensor.randn([4, 3, 16, 16])), Tensor.from([0, 1, 2, 4], [4], 'int64')).backward());
  for (const [name, p] of m.namedParameters()) {
    const g = scope(() => { const gr = p.grad; return gr === null ? null : gr.abs().sum().item(); });
    assert.ok(g !== null && Number.isFinite(g) && g > 0, `${name}: gradient ${g}`);
  }
  m.eval();
  scope(() => {
    const x = Tensor.randn([3, 3, 8, 8]);
    const all = m.forward(x);
    const one = m.forward(x.narrow(0, 1, 1));
    assert.ok(one.allclose(all.narrow(0, 1, 1), 1e-5, 1e-6));
  });
  m.dispose();
});
