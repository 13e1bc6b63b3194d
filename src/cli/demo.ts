// `gdnsq demo`: the main job of the README. For now, a tiny engine demonstration.
import { Command } from 'commander';
import { Tensor, F, scope, manualSeed, getNumThreads, torchVersion, noGrad } from '../engine';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('run the demonstration job')
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
