// End to end through the engine alone: an MLP learns two interleaved spirals, with Adam
// written from tensor ops. The loss must fall at least tenfold, identically for a given seed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, F, scope, noGrad, manualSeed, getNumThreads, setNumThreads } from '../../src/engine';

const PI = Math.PI;

/** n points per class: radius r, angle 3πr (+π for class 1), Gaussian jitter from the seed. */
function spirals(n: number): { x: Tensor; y: Tensor } {
  const xy = new Float32Array(4 * n);
  const labels = new BigInt64Array(2 * n);
  for (let c = 0; c < 2; c++) {
    for (let i = 0; i < n; i++) {
      const r = 0.1 + (0.9 * i) / n;
      const angle = 3 * PI * r + c * PI;
      const k = c * n + i;
      [xy[2 * k], xy[2 * k + 1], labels[k]] = [r * Math.sin(angle), r * Math.cos(angle), BigInt(c)];
    }
  }
  return scope(() => ({
    x: Tensor.from(xy, [2 * n, 2]).add(Tensor.randn([2 * n, 2]).mul(0.02)).keep(),
    y: Tensor.from(labels).keep(),
  }));
}

function train(seed: number, steps: number): number[] {
  manualSeed(seed);
  const { x, y } = spirals(100);
  const sizes = [2, 48, 48, 2];
  const params = scope(() => sizes.slice(1).flatMap((out, i) => [
    Tensor.randn([out, sizes[i]]).mul(Math.sqrt(2 / sizes[i])).requiresGrad_().keep(),
    Tensor.zeros([out]).requiresGrad_().keep(),
  ]));
  const m = params.map((p) => Tensor.zerosLike(p).keep());
  const v = params.map((p) => Tensor.zerosLike(p).keep());
  const [lr, b1, b2, eps] = [0.02, 0.9, 0.999, 1e-8];
  const losses: number[] = [];
  for (let k = 1; k <= steps; k++) {
    losses.push(scope(() => {
      let h = x;
      for (let l = 0; l < 3; l++) {
        h = F.linear(h, params[2 * l], params[2 * l + 1]);
        if (l < 2) h = h.relu();
      }
      const loss = F.crossEntropy(h, y);
      loss.backward();
      noGrad(() => params.forEach((p, i) => {
        const g = p.grad as Tensor;
        m[i].lerp_(g, 1 - b1);
        v[i].mul_(b2).addcmul_(g, g, 1 - b2);
        const denom = v[i].div(1 - b2 ** k).sqrt().add(eps);
        p.addcdiv_(m[i], denom, -lr / (1 - b1 ** k));
        p.zeroGrad();
      }));
      return loss.item();
    }));
  }
  for (const t of [...params, ...m, ...v, x, y]) t.dispose();
  return losses;
}

test('an MLP fits two spirals: loss falls ≥ 10×, deterministically for a seed', (t) => {
  const threads = getNumThreads();
  setNumThreads(1);
  t.after(() => setNumThreads(threads));
  const a = train(7, 400);
  const first = a[0];
  const last = a[a.length - 1];
  t.diagnostic(`loss ${first.toFixed(4)} → ${last.toFixed(4)} (${(first / last).toFixed(0)}×) in ${a.length} full-batch steps`);
  assert.ok(first > 0.6 && first < 0.9, `initial loss ${first} is near ln 2`);
  assert.ok(last * 10 <= first, `loss fell only ${(first / last).toFixed(1)}× (${first} → ${last})`);
  assert.deepEqual(train(7, 30), a.slice(0, 30), 'same seed, same losses, bit for bit');
  assert.notDeepEqual(train(8, 30), a.slice(0, 30));
});
