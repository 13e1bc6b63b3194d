import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, scope, liveTensors } from '../../src/engine';
import { Module, Sequential, Linear, ReLU, Identity, chain } from '../../src/nn';

class AddOne extends Module {
  override forward(x: Tensor): Tensor { return x.add(1); }
}
class Double extends Module {
  override forward(x: Tensor): Tensor { return x.mul(2); }
}

test('Sequential applies its children in order, named 0, 1, ...', () => {
  const s = new Sequential(new AddOne(), new Double(), new Identity()).append(new AddOne());
  assert.equal(s.length, 4);
  assert.deepEqual(s.namedChildren().map(([n]) => n), ['0', '1', '2', '3']);
  assert.ok(s.at(-1) instanceof AddOne && s.at(1) instanceof Double);
  assert.throws(() => s.at(4), { message: 'Sequential: index 4 out of range for 4 modules' });
  assert.deepEqual(scope(() => s.call(Tensor.from([0, 1])).toArray()), [3, 5]);
  s.setSubmodule('1', new AddOne());
  assert.deepEqual(scope(() => s.call(Tensor.from([0, 1])).toArray()), [3, 4]);
});

test('chain frees intermediate results at once, keeps the input, and autograd still works', () => {
  const x = Tensor.from([1, -2]).keep();
  const live = liveTensors();
  const y = chain(x, [new AddOne(), new Double(), new Identity(), new AddOne()]);
  assert.equal(liveTensors() - live, 1, 'only the result is alive');
  assert.ok(!x.isDisposed);
  assert.deepEqual(y.toArray(), [5, -1]);
  assert.equal(chain(x, []), x);
  y.dispose();

  const net = new Sequential(new Linear(2, 4), new ReLU(), new Linear(4, 1));
  const w = (net.at(0) as Linear).weight;
  scope(() => { net.call(Tensor.from([[1, 2], [3, 4]].flat(), [2, 2])).sum().backward(); });
  assert.ok(scope(() => w.grad !== null && w.grad.abs().sum().item() > 0));
  net.dispose();
  x.dispose();
});
