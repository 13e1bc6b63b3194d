// Top-1/top-5 accuracy and mean loss of a model over a loader, in eval mode, without autograd.
import { Tensor, F, scope, noGrad } from '../engine';
import { forEachInScope } from './batches';

export interface EvalResult { top1: number; top5: number; loss: number; n: number }

export interface Classifier {
  forward(x: Tensor): Tensor;
  train(mode?: boolean): unknown;
  readonly training: boolean;
}

export interface Batch { x: Tensor; y: Tensor; size: number }

/** Counts of correct top-1 / top-k predictions in one batch of logits. */
export function topkCorrect(logits: Tensor, y: Tensor, k: number): number {
  return scope(() => {
    const kk = Math.min(k, logits.size(1));
    const idx = logits.topkIndices(kk, 1);
    return idx.eq(y.unsqueeze(1)).sum().item();
  });
}

export function evaluate(model: Classifier, batches: Iterable<Batch>): EvalResult {
  const wasTraining = model.training;
  model.train(false);
  let n = 0, c1 = 0, c5 = 0, lossSum = 0;
  try {
    noGrad(() => {
      forEachInScope(batches, (b) => {
        const logits = model.forward(b.x);
        lossSum += F.crossEntropy(logits, b.y, 'sum').item();
        c1 += topkCorrect(logits, b.y, 1);
        c5 += topkCorrect(logits, b.y, 5);
        n += b.size;
      });
    });
  } finally {
    model.train(wasTraining);
  }
  if (n === 0) throw new Error('evaluate: the data set is empty');
  return { top1: c1 / n, top5: c5 / n, loss: lossSum / n, n };
}

