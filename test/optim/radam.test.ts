import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { RAdam } from '../../src/optim';
import { G, P0, assertClose, param, trajectory } from './fixtures';

// With β2 = 0.999: ρ∞ = 2/(1 − β2) − 1 = 1999 and ρ_t = ρ∞ − 2t·β2^t/(1 − β2^t):
//   ρ1 = 1, ρ2 ≈ 1.9995, ρ3 ≈ 2.9987, ρ4 ≈ 3.9975, ρ5 ≈ 4.9960 (≤ 5: momentum-only steps),
//   ρ6 ≈ 5.99416 (> 5: rectified).
test('RAdam: plain momentum steps while rho_t ≤ 5, rectified Adam steps after', () => {
  const p = param([1, -2]);
  const g = [0.5, 1];
  const got = trajectory(new RAdam([p], { lr: 0.1 }), p, Array.from({ length: 7 }, () => g));
  // A constant gradient makes the bias-corrected momentum m̂ = g exactly, so steps 1..5 move by
  // lr·g = [0.05, 0.1] each: p5 = [1 − 5·0.05, −2 − 5·0.1] = [0.75, −2.5].
  for (let t = 1; t <= 5; t++) assertClose(got[t - 1], [1 - 0.05 * t, -2 - 0.1 * t]);
  // Step 6: v = g²·(1 − β2⁶), so √bc2/(√v + eps) = 1/(|g| + eps/√bc2) and the step is
  // lr·rect·g/(|g| + eps/√bc2) ≈ lr·rect·sign(g), with
  // rect = √((ρ6 − 4)(ρ6 − 2)ρ∞ / ((ρ∞ − 4)(ρ∞ − 2)ρ6)) ≈ 0.0258211128.
  const rho6 = 1999 - (12 * 0.999 ** 6) / (1 - 0.999 ** 6);
  assertClose([rho6], [5.994163751655833], 1e-9);
  const rect = Math.sqrt(((rho6 - 4) * (rho6 - 2) * 1999) / (1995 * 1997 * rho6));
  assertClose([rect], [0.0258211128], 1e-10);
  const sq = Math.sqrt(1 - 0.999 ** 6);
  assertClose(got[5], [0.75 - (0.1 * rect * 0.5) / (0.5 + 1e-8 / sq), -2.5 - (0.1 * rect * 1) / (1 + 1e-8 / sq)]);
  assertClose(got[5], [0.75 - 0.00258211128, -2.5 - 0.00258211128], 1e-9);
  p.dispose();
});

test('RAdam float32 trajectory (weight decay, both regimes) equals PyTorch 1.13 bit for bit', () => {
  const p = param(P0, 'float32');
  assert.deepEqual(trajectory(new RAdam([p], { lr: 0.01, weightDecay: 0.01 }), p, G), [
    [0.4969500005245209, -1.2428749799728394, 1.988800048828125, 0.09949000179767609],
    [0.49653175473213196, -1.2415398359298706, 1.9786533117294312, 0.10240107774734497],
    [0.4932974874973297, -1.2410205602645874, 1.9740227460861206, 0.10312716662883759],
    [0.49026238918304443, -1.2395983934402466, 1.9693727493286133, 0.1052384227514267],
    [0.4901542067527771, -1.23995840549469, 1.9653217792510986, 0.10512219369411469],
    [0.4901338517665863, -1.239979863166809, 1.9652810096740723, 0.10507167130708694],
    [0.4900524616241455, -1.2399295568466187, 1.9651927947998047, 0.10508450120687485],
    [0.49000945687294006, -1.2399078607559204, 1.9650890827178955, 0.10498514771461487],
  ]);
  p.dispose();
});
