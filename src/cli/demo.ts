// `gdnsq demo`: a tiny engine demonstration (the README's main job is `npm run demo`).
import { Command } from 'commander';
import { Tensor, F, scope, manualSeed, getNumThreads, torchVersion, noGrad } from '../engine';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('tiny engine demonstration: fit a line by gradient descent (the main demo is npm run demo)')
    .action(() => {
      manualSeed(0);
      console.log(`libtorch ${torchVersion()}, ${getNumThreads()} threads`);
      // Fit y = 3x - 1 with a single linear unit by gradient descent.
      const w = Tensor.zeros([1, 1]).requiresGrad_().keep();
      const b = Tensor.zeros([1]).requiresGrad_().keep();
      const x = Tensor.randn([256, 1]).keep();
      const y = x.mul(3).sub(1).keep();
      for (let step = 0; step <= 200; step++) {
        const loss = scope(() => {
          const l = F.mseLoss(F.linear(x, w, b), y);
          l.backward();
          noGrad(() => {
            for (const p of [w, b]) scope(() => { p.add_(p.grad!, -0.1); p.zeroGrad(); });
          });
          return l.item();
        });
        if (step % 50 === 0) console.log(`step ${step}: loss ${loss.toFixed(6)}`);
      }
      console.log(`w = ${w.item().toFixed(4)} (3), b = ${b.item().toFixed(4)} (-1)`);
    });
}
