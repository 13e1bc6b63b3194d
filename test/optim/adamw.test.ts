import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { AdamW } from '../../src/optim';
import { G, P0, assertClose, param, trajectory } from './fixtures';

test('AdamW decays the parameter by (1 − lr·wd) before the Adam step', () => {
  const p = param([1, -2]);
  const opt = new AdamW([p], { lr: 0.1, weightDecay: 0.1 });
  const got = trajectory(opt, p, [[0.5, 1]]);
  // p ← p·(1 − 0.01) = [0.99, −1.98]; then the Adam step 1: −lr·g/(|g| + eps)
  assertClose(got[0], [0.99 - 0.05 / (0.5 + 1e-8), -1.98 - 0.1 / (1 + 1e-8)]);
  assertClose(got[0], [0.890000002, -2.079999999], 1e-15);
  p.dispose();
});

test('AdamW defaults to weightDecay 1e-2, as PyTorch', () => {
  const p = param([1]);
  assert.equal(new AdamW([p]).paramGroups[0].weightDecay, 1e-2);
  assert.equal(new AdamW([p], { weightDecay: 0 }).paramGroups[0].weightDecay, 0);
  p.dispose();
});

test('AdamW float32 trajectory equals PyTorch 1.13 bit for bit', () => {
  const p = param(P0, 'float32');
  assert.deepEqual(trajectory(new AdamW([p], { lr: 0.01, weightDecay: 0.1 }), p, G.slice(0, 3)), [
    [0.4895000159740448, -1.2387499809265137, 1.9880000352859497, 0.08990000188350677],
    [0.4875653088092804, -1.2353875637054443, 1.9761135578155518, 0.09666961431503296],
    [0.4807942509651184, -1.2333101034164429, 1.9690415859222412, 0.09846826642751694],
  ]);
  p.dispose();
});
