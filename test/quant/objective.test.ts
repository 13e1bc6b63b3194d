import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, scope, manualSeed } from '../../src/engine';
import { Sequential, Conv2d, ReLU, Flatten, Linear } from '../../src/nn';
import { GdnsqObjective } from '../../src/quant/objective';
import { GdnsqLrSchedule } from '../../src/quant/lr-schedule';
import { noiseAwareMetric } from '../../src/quant/metric';
import { distillLoss } from '../../src/quant/distill';
import { bitPenalty } from '../../src/quant/penalty';
import { calibrate } from '../../src/quant/calibrate';
import { tinyQuantized } from './fixtures';

const close = (a: number, b: number, what: string, tol = 1e-6): void => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

function setup(): { student: Sequential; teacher: Sequential; batches: { x: Tensor; y: Tensor }[] } {
  manualSeed(11);
  const teacher = new Sequential(new Conv2d(2, 2, 1, { bias: false }), new ReLU(), new Flatten(), new Linear(2, 3, { bias: false }));
  const student = tinyQuantized();
  const batches = [0, 1, 2, 3].map(() => scope(() => ({ x: Tensor.randn([8, 2, 1, 1]).keep(), y: Tensor.randint(0, 3, [8]).keep() })));
  calibrate(student, batches);
  return { student, teacher, batches };
}

test('L = L_task + t·c·(m_w P_w + m_a P_a); c is the running mean of L_task; t grows after warm-up', () => {
  const { student, teacher, batches } = setup();
  const obj = new GdnsqObjective({ student, teacher, lr: 0.01, kappa: 2, warmupSteps: 2 });
  const tasks: number[] = [];
  const ts: number[] = [];
  batches.forEach((b, i) => scope(() => {
    const r = obj.loss(b);
    const expectTask = distillLoss('skl', student.forward(b.x), teacher.forward(b.x)).item();
    tasks.push(r.task.item());
    // noise only affects the backward pass: the forward is deterministic
    close(r.task.item(), expectTask, `task loss of step ${i}`);
    const c = tasks.reduce((a, v) => a + v, 0) / tasks.length;
    close(obj.c, c, `c at step ${i}`);
    assert.equal(obj.count, i + 1);
    const expectLoss = r.task.item() + obj.t * c * bitPenalty(student).value.item();
    close(r.loss.item(), expectLoss, `loss at step ${i}`);
    ts.push(obj.t);
    const shown = obj.afterStep(i + 1);
    assert.equal(shown.t, obj.t);
  }));
  // t for steps 0..3 (1-based afterStep 1..4, warm-up 2): 0, 0, 0, then lr·κ per step
  assert.deepEqual(ts, [0, 0, 0, 0.02]);
  assert.equal(obj.t, 0.04);
  assert.ok(ts[3] > 0 && obj.c > 0);
  for (const b of batches) { b.x.dispose(); b.y.dispose(); }
  student.dispose();
  teacher.dispose();
});

test('the teacher stays in eval mode and gets no gradient; the student does', () => {
  const { student, teacher, batches } = setup();
  const obj = new GdnsqObjective({ student, teacher, lr: 1, warmupSteps: 0 });
  obj.afterStep(1);
  teacher.train(true);
  scope(() => {
    obj.loss(batches[0]).loss.backward();
    assert.equal(teacher.training, false);
    assert.ok(teacher.parameters().every((p) => p.grad === null));
    assert.ok(student.namedParameters().filter(([n]) => n.endsWith('weight')).every(([, p]) => p.grad !== null));
    // with t > 0 the penalty reaches the quantizer steps
    assert.ok(student.namedParameters().filter(([n]) => n.endsWith('log2_step')).some(([, p]) => p.grad !== null && p.grad.abs().sum().item() > 0));
  });
  for (const b of batches) { b.x.dispose(); b.y.dispose(); }
  student.dispose();
  teacher.dispose();
});

test('objective state round-trips; labels need no teacher; bad options are named', () => {
  const { student, teacher, batches } = setup();
  const a = new GdnsqObjective({ student, loss: 'labels', lr: 0.5, warmupSteps: 0 });
  scope(() => { a.loss(batches[0]); });
  a.afterStep(1);
  const b = new GdnsqObjective({ student, teacher, lr: 0.5 });
  b.loadState(JSON.parse(JSON.stringify(a.state())));
  assert.deepEqual(b.state(), a.state());
  assert.equal(b.t, 1);
  assert.throws(() => b.loadState({ t: 1 }), /^Error: GdnsqObjective.loadState: expected \{t, c, count\} numbers$/);
  assert.throws(() => new GdnsqObjective({ student, lr: 0.1 }), /loss 'skl' needs a teacher model/);
  assert.throws(() => new GdnsqObjective({ student, teacher: student, lr: 0.1 }), /the teacher must be a separate \(FP\) model/);
  assert.throws(() => new GdnsqObjective({ student, teacher, lr: 0 }), /lr must be a positive number, got 0/);
  assert.throws(() => new GdnsqObjective({ student, teacher, lr: 1, loss: 'l2' as never }), /unknown distillation loss 'l2'/);
  for (const x of batches) { x.x.dispose(); x.y.dispose(); }
  student.dispose();
  teacher.dispose();
});

test('LR rule: linear warm-up, constant until converged, then ×decay per step (latched)', () => {
  const s = new GdnsqLrSchedule({ warmupSteps: 4 });
  assert.deepEqual([0, 1, 2, 3, 10, 500].map((i) => s.factor(i)), [0.25, 0.5, 0.75, 1, 1, 1]);
  s.markConverged(12);
  s.markConverged(20);
  assert.equal(s.convergedAt, 12);
  assert.equal(s.factor(11), 1);
  assert.equal(s.factor(12), 1);
  close(s.factor(14), 0.9985 ** 2, 'two steps after convergence');
  close(s.factor(1012), 0.9985 ** 1000, '1000 steps after');
  const r = new GdnsqLrSchedule({ warmupSteps: 4 });
  r.loadState(JSON.parse(JSON.stringify(s.state())));
  assert.equal(r.factor(14), s.factor(14));
  assert.equal(new GdnsqLrSchedule({ warmupSteps: 0, decay: 0.5 }).factor(0), 1);
  assert.equal(new GdnsqLrSchedule().factor(499), 0.5);
  assert.throws(() => new GdnsqLrSchedule({ decay: 1.5 }), /decay must be in \(0, 1\], got 1.5/);
  assert.throws(() => r.loadState({ convergedAt: -1 }), /expected \{convergedAt: integer ≥ 0 \| null\}/);
});

test('noise-aware metric: top-1 once converged, else 0', () => {
  assert.equal(noiseAwareMetric(0.93, true), 0.93);
  assert.equal(noiseAwareMetric(0.93, false), 0);
});
