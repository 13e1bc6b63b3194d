// Task losses of GDNSQ fine-tuning (GDNSQ.md §3): divergences between the student's and the
// frozen FP teacher's softmax outputs, batch means of per-sample values, or plain labels.
// Everything is computed from log-softmax so that no probability is logged after underflow.
import { Tensor, F } from '../engine';

export type DistillLoss = 'skl' | 'kl' | 'soft-ce' | 'js' | 'hellinger' | 'labels';
export const DISTILL_LOSSES: readonly DistillLoss[] = ['skl', 'kl', 'soft-ce', 'js', 'hellinger', 'labels'];

export function checkDistillLoss(name: string): DistillLoss {
  if (!(DISTILL_LOSSES as readonly string[]).includes(name)) {
    throw new Error(`unknown distillation loss '${name}' (${DISTILL_LOSSES.join(', ')})`);
  }
  return name as DistillLoss;
}

/** Per-sample KL(p‖q) from log-probabilities over the last dimension. */
function kl(logP: Tensor, logQ: Tensor): Tensor {
  return logP.exp().mul(logP.sub(logQ)).sum(-1);
}

/** log((e^a + e^b) / 2), elementwise and overflow-free. */
function logMean(a: Tensor, b: Tensor): Tensor {
  const m = a.maximum(b);
  return a.sub(m).exp().add(b.sub(m).exp()).log().add(m).sub(Math.LN2);
}

/**
 * The task loss of one batch. student/teacher: logits [N, K]; the teacher's are treated as
 * constants (compute them without autograd). 'skl' = KL(p_s‖p_t) + KL(p_t‖p_s) (Jeffreys, the
 * paper's default); 'kl' = KL(p_t‖p_s) as in Hinton's distillation; 'soft-ce' = −Σ p_t log p_s;
 * 'js' = Jensen–Shannon; 'hellinger' = the squared Hellinger distance ½Σ(√p_s − √p_t)² (the
 * distance itself has an infinite gradient where the two agree); 'labels' = cross-entropy with
 * the labels y (no teacher needed).
 */
export function distillLoss(name: DistillLoss, student: Tensor, teacher: Tensor | null, labels?: Tensor): Tensor {
  if (name === 'labels') {
    if (!labels) throw new Error("distillLoss: 'labels' needs the labels y");
    return F.crossEntropy(student, labels);
  }
  if (!teacher) throw new Error(`distillLoss: '${name}' needs the teacher's logits`);
  const ss = student.shape, ts = teacher.shape;
  if (ss.length !== 2 || ts.length !== 2 || ss[0] !== ts[0] || ss[1] !== ts[1]) {
    throw new Error(`distillLoss: student and teacher logits must both be [N, K], got [${ss.join(', ')}] and [${ts.join(', ')}]`);
  }
  const s = F.logSoftmax(student, -1);
  const t = F.logSoftmax(teacher.detach(), -1);
  switch (name) {
    case 'skl': return kl(s, t).add(kl(t, s)).mean();
    case 'kl': return kl(t, s).mean();
    case 'soft-ce': return t.exp().mul(s).sum(-1).neg().mean();
    case 'js': {
      const m = logMean(s, t);
      return kl(s, m).add(kl(t, m)).mul(0.5).mean();
    }
    case 'hellinger': return s.mul(0.5).exp().sub(t.mul(0.5).exp()).square().sum(-1).mul(0.5).mean();
    default: throw new Error(`distillLoss: unknown loss '${String(name)}' (${DISTILL_LOSSES.join(', ')})`);
  }
}
