// `gdnsq bench <name>`: benchmarks that print ratios measured in one run.
import { Command } from 'commander';
import { int } from './options';

export function registerBench(program: Command): void {
  const bench = program.command('bench').description('run a benchmark (engine, train, quant, dist)');
  bench
    .command('engine')
    .description('op-by-op TypeScript vs one C++ call: ResNet-20 forward+backward, batch 128')
    .option('--json', 'print one JSON line')
    .option('--iters <n>', 'timed iterations', '5')
    .action(async (opts: { json?: boolean; iters: string }) => {
      const { benchEngine } = await import('../../bench/engine');
      benchEngine({ json: !!opts.json, iters: Number(opts.iters) });
    });
  bench
    .command('loader')
    .description('data loader throughput: Fashion-MNIST, batch 128, crop + flip + normalize')
    .option('--data-dir <dir>', 'folder with the dataset files')
    .action(async (opts: { dataDir?: string }) => {
      const { benchLoader } = await import('../../bench/loader');
      benchLoader({ dataDir: opts.dataDir });
    });
  bench
    .command('train')
    .description('FP training step of ResNet-20, synthetic 3x32x32 (vs eager PyTorch when installed)')
    .option('--json', 'print one JSON line')
    .option('--iters <n>', 'timed iterations', int('--iters', 1), 10)
    .option('--threads <n>', 'intra-op threads', int('--threads', 1), 2)
    .option('--batch <n>', 'batch size', int('--batch', 1), 128)
    .option('--no-torch', 'skip the PyTorch reference')
    .action(async (opts: { json?: boolean; iters: number; threads: number; batch: number; torch: boolean }) => {
      const { benchTrain } = await import('../../bench/train');
      benchTrain({ json: !!opts.json, iters: opts.iters, threads: opts.threads, batch: opts.batch, torch: opts.torch });
    });
  bench
    .command('quantizer')
    .description('fused quantizer kernel vs the plain tensor-op reference (forward + backward)')
    .option('--json', 'print one JSON line')
    .option('--iters <n>', 'timed iterations', int('--iters', 1), 20)
    .action(async (opts: { json?: boolean; iters: number }) => {
      const { benchQuantizer } = await import('../../bench/quantizer');
      benchQuantizer({ json: !!opts.json, iters: opts.iters });
    });
  bench
    .command('dist')
    .description('data-parallel FP step, 1 vs 2 ranks (1 thread each, loopback Gloo): step and all-reduce time')
    .option('--json', 'print one JSON line')
    .option('--iters <n>', 'timed steps per rank', int('--iters', 1), 10)
    .option('--batch <n>', 'batch size per rank', int('--batch', 1), 128)
    .option('--model <name>', 'model', 'resnet20')
    .option('--size <n>', 'image side (3×size×size inputs)', int('--size', 8), 32)
    .action(async (opts: { json?: boolean; iters: number; batch: number; model: string; size: number }) => {
      const { benchDist } = await import('../../bench/dist');
      await benchDist({ json: !!opts.json, iters: opts.iters, batch: opts.batch, model: opts.model, size: opts.size });
    });
  bench
    .command('quant')
    .description('GDNSQ W2A2 training step (with teacher forward) vs the FP step, ResNet-20, 3x32x32')
    .option('--json', 'print one JSON line')
    .option('--iters <n>', 'timed iterations per round', int('--iters', 1), 5)
    .option('--rounds <n>', 'alternating FP/GDNSQ rounds', int('--rounds', 1), 2)
    .option('--threads <n>', 'intra-op threads', int('--threads', 1), 2)
    .option('--batch <n>', 'batch size', int('--batch', 1), 128)
    .action(async (opts: { json?: boolean; iters: number; rounds: number; threads: number; batch: number }) => {
      const { benchQuant } = await import('../../bench/quant');
      benchQuant({ json: !!opts.json, iters: opts.iters, rounds: opts.rounds, threads: opts.threads, batch: opts.batch });
    });
  bench
    .command('infer')
    .description('inference: packed low-bit runtime vs FP32 libtorch vs ONNX Runtime (FP32, Q/DQ), threads 1/2, batch 1/256')
    .option('--checkpoint <file>', 'benchmark this quantized model (default: every quantized model under models/)')
    .option('--threads <list>', 'thread counts', '1,2')
    .option('--batch <list>', 'batch sizes', '1,256')
    .option('--iters <n>', 'timed runs per measurement (batch 1: 20x)', int('--iters', 1), 10)
    .option('--no-ort', 'skip the ONNX Runtime rows')
    .option('--no-layers', 'skip the per-layer times')
    .option('--data-dir <dir>', 'folder with the dataset files')
    .option('--json', 'print one JSON object')
    .action(async (opts: { checkpoint?: string; threads: string; batch: string; iters: number; ort: boolean; layers: boolean; dataDir?: string; json?: boolean }) => {
      const { runBenchInfer } = await import('./bench-infer');
      await runBenchInfer(opts);
    });
}
