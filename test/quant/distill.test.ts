import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, scope, F } from '../../src/engine';
import { distillLoss, DISTILL_LOSSES, checkDistillLoss } from '../../src/quant/distill';
import { gradcheck } from '../helpers/gradcheck';

// Two rows of hand-made distributions; logits = ln p reproduce them exactly under softmax.
const P = [[0.7, 0.2, 0.1], [0.25, 0.25, 0.5]];
const Q = [[0.5, 0.3, 0.2], [0.6, 0.3, 0.1]];
const logits = (rows: number[][]): Tensor => Tensor.from(rows.flat().map(Math.log), [rows.length, rows[0].length], 'float64');
const rowsMean = (f: (p: number[], q: number[]) => number): number => P.reduce((s, p, i) => s + f(p, Q[i]), 0) / P.length;
const kl = (p: number[], q: number[]): number => p.reduce((s, pi, k) => s + pi * Math.log(pi / q[k]), 0);

test('closed forms on tiny distributions (student p, teacher q)', () => {
  scope(() => {
    const s = logits(P), t = logits(Q);
    const m = (p: number[], q: number[]): number[] => p.map((pi, k) => (pi + q[k]) / 2);
    const expected: Record<string, number> = {
      skl: rowsMean((p, q) => kl(p, q) + kl(q, p)),
      kl: rowsMean((p, q) => kl(q, p)),
      'soft-ce': rowsMean((p, q) => -q.reduce((a, qk, k) => a + qk * Math.log(p[k]), 0)),
      js: rowsMean((p, q) => 0.5 * kl(p, m(p, q)) + 0.5 * kl(q, m(p, q))),
      hellinger: rowsMean((p, q) => 0.5 * p.reduce((a, pk, k) => a + (Math.sqrt(pk) - Math.sqrt(q[k])) ** 2, 0)),
    };
    for (const [name, v] of Object.entries(expected)) {
      const got = distillLoss(checkDistillLoss(name), s, t).item();
      assert.ok(Math.abs(got - v) < 1e-12, `${name}: ${got} vs ${v}`);
    }
    const y = Tensor.from([0, 2], [2], 'int64');
    assert.equal(distillLoss('labels', s, null, y).item(), F.crossEntropy(s, y).item());
    assert.ok(Math.abs(distillLoss('labels', s, null, y).item() - -(Math.log(0.7) + Math.log(0.5)) / 2) < 1e-12);
  });
});

test('every divergence is zero when student = teacher (soft-CE: the entropy), also with extreme logits', () => {
  scope(() => {
    const s = Tensor.from([3, -200, 0.5, 90, 0, -90], [2, 3]);
    for (const name of DISTILL_LOSSES.filter((n) => n !== 'labels' && n !== 'soft-ce')) {
      const v = distillLoss(name, s, s.clone()).item();
      assert.ok(Number.isFinite(v) && Math.abs(v) < 1e-6, `${name}: ${v}`);
    }
    const p = F.softmax(s, -1).to('float64').toArray();
    const entropy = -p.reduce((a, v) => a + (v > 0 ? v * Math.log(v) : 0), 0) / 2;
    assert.ok(Math.abs(distillLoss('soft-ce', s, s).item() - entropy) < 1e-6);
    // far apart with underflowing probabilities: still finite
    for (const name of DISTILL_LOSSES.filter((n) => n !== 'labels')) {
      assert.ok(Number.isFinite(distillLoss(name, s, s.neg()).item()), name);
    }
  });
});

test('gradients w.r.t. the student logits match finite differences; none reach the teacher', () => {
  scope(() => {
    const t = Tensor.from([0.3, -1.2, 2.0, 0.1, 0.4, -0.7, 1.1, 0.0], [2, 4], 'float64');
    const y = Tensor.from([2, 0], [2], 'int64');
    for (const name of DISTILL_LOSSES) {
      const s = Tensor.from([1.0, 0.2, -0.5, 0.3, -0.2, 0.9, 0.1, -1.4], [2, 4], 'float64').requiresGrad_();
      gradcheck(([a]) => distillLoss(name, a, t, y), [s]);
    }
    const tg = t.clone().requiresGrad_();
    const s = Tensor.from([1, 2, 3, 4, 5, 6, 7, 8], [2, 4], 'float64').requiresGrad_();
    distillLoss('skl', s, tg).backward();
    assert.equal(tg.grad, null);
  });
});

test('bad input is named', () => {
  scope(() => {
    const a = Tensor.zeros([2, 3]);
    assert.throws(() => distillLoss('skl', a, Tensor.zeros([2, 4])), /^Error: distillLoss: student and teacher logits must both be \[N, K\], got \[2, 3\] and \[2, 4\]$/);
    assert.throws(() => distillLoss('js', a, null), /'js' needs the teacher's logits/);
    assert.throws(() => distillLoss('labels', a, null), /'labels' needs the labels y/);
    assert.throws(() => checkDistillLoss('mse'), /unknown distillation loss 'mse' \(skl, kl, soft-ce, js, hellinger, labels\)/);
  });
});
