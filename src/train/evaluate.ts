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

/** Correct predictions in one batch of logits, for each k of ks (one top-k for all of them). */
export function correctAtK(logits: Tensor, y: Tensor, ks: number[]): number[] {
  return scope(() => {
    const kmax = Math.min(Math.max(...ks), logits.size(1));
    // hits[i][j]: the j-th ranked class of sample i is its label (topk is sorted).
    const hits = logits.topkIndices(kmax, 1).eq(y.unsqueeze(1)).to('int64').sum(0).toArray();
    return ks.map((k) => hits.slice(0, Math.min(k, kmax)).reduce((a, b) => a + b, 0));
  });
}

/** Correct top-k predictions in one batch of logits. */
export function topkCorrect(logits: Tensor, y: Tensor, k: number): number {
  return correctAtK(logits, y, [k])[0];
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
        const [k1, k5] = correctAtK(logits, b.y, [1, 5]);
        c1 += k1;
        c5 += k5;
        n += b.size;
      });
    });
  } finally {
    model.train(wasTraining);
  }
  if (n === 0) throw new Error('evaluate: the data set is empty');
  return { top1: c1 / n, top5: c5 / n, loss: lossSum / n, n };
}

