// `gdnsq experiment grid|row`: the experiment runner. Parses arguments and prints; the work is
// the library's experiment.runGrid() / runRow(). SIGTERM stops a training row as Ctrl-C does
// (its state saved), so a grid run in the background can be stopped with either signal.
import { Command } from 'commander';
import * as path from 'path';
import { setNumThreads, manualSeed } from '../engine';
import { InvalidArgumentError } from 'commander';
import { loadGridConfig, runGrid, gridStatus, formatStatus, selectRows, redrawResults, shipRows, withSeeds, seedText } from '../experiment';
import { int } from './options';

interface GridCliOptions { config: string; out: string; rows?: string[]; seeds?: number[]; seed?: number; status?: boolean; threads?: number; progress: boolean }
interface RowCliOptions { config: string; row: string; out: string; seeds?: number[]; seed?: number; status?: boolean; threads?: number; progress: boolean }

function onSigterm(): void {
  // The trainer listens for SIGINT between steps; with no training under way, just exit.
  if (process.listenerCount('SIGINT') > 0) process.emit('SIGINT', 'SIGINT');
  else process.exit(143);
}

async function run(o: GridCliOptions): Promise<void> {
  const file = loadGridConfig(o.config);
  const config = o.seeds ? withSeeds(file, o.seeds, o.rows) : file;
  if (o.status) {
    console.log(formatStatus(gridStatus(config, o.out, o.rows)));
    return;
  }
  selectRows(config, o.rows);
  if (o.threads) setNumThreads(o.threads);
  manualSeed(config.seed);
  process.on('SIGTERM', onSigterm);
  try {
    const r = await runGrid(config, { out: o.out, rows: o.rows, seed: o.seed, progress: o.progress });
    console.log(formatStatus(gridStatus(config, o.out, o.rows)));
    console.log(`results: ${r.files.map((f) => path.relative(process.cwd(), f)).join(', ')} (+ .md)`);
    if (r.interrupted) process.exit(130);
  } finally {
    process.removeListener('SIGTERM', onSigterm);
  }
}

const rowList = (v: string): string[] => v.split(',').map((x) => x.trim()).filter(Boolean);
function seedList(v: string): number[] {
  const seeds = v.split(',').map((x) => x.trim());
  if (!seeds.every((x) => /^\d+$/.test(x)) || new Set(seeds.map(Number)).size !== seeds.length) {
    throw new InvalidArgumentError(`--seeds must be distinct integers ≥ 0, comma-separated, got '${v}'`);
  }
  return seeds.map(Number);
}

export function registerExperiment(program: Command): void {
  const exp = program.command('experiment').description('run a grid of quantization experiments from a config (resumable)');
  const common = (c: Command): Command => c
    .requiredOption('--config <file>', 'grid config (JSON: teacher, dataset, budget, rows)')
    .requiredOption('--out <dir>', 'output folder: a subfolder per row (<row>-seed<s> for its seeds other than the config seed), results.json')
    .option('--status', 'only say which rows are done, in progress and not started')
    .option('--seeds <list>', "comma-separated training seeds of the selected gdnsq/fixed rows, each a run (default: each row's seeds in the config)", seedList)
    .option('--threads <n>', 'intra-op threads', int('--threads', 1))
    .option('--no-progress', 'no progress output');
  common(exp.command('grid').description('run every row (or --rows) not yet done; a stopped row continues where it was saved'))
    .option('--rows <names>', 'comma-separated row names (default: all)', rowList)
    .action((o: GridCliOptions) => run(o));
  exp.command('results').description("redraw the config's results table (.md) and plot (.svg, .png) from its results JSON, with the rows finished under --out merged in")
    .requiredOption('--config <file>', 'grid config (JSON) naming the results file')
    .option('--out <dir>', 'a grid output folder whose finished rows are merged in first')
    .option('--seeds <list>', "the training rows' seeds to merge (default: each row's seeds in the config; a row counts once all of them are done)", seedList)
    .action(async (o: { config: string; out?: string; seeds?: number[] }) => {
      const config = o.seeds ? withSeeds(loadGridConfig(o.config), o.seeds) : loadGridConfig(o.config);
      if (!config.results) throw new Error(`${path.basename(o.config)} names no results file ("results")`);
      for (const f of await redrawResults(config, o.out ?? null, [config.results])) console.log(path.relative(process.cwd(), f));
    });
  exp.command('ship').description('copy finished, converged rows\' checkpoints to the models folder with a model card each (default: the GDNSQ rows with goals)')
    .requiredOption('--config <file>', 'grid config (JSON)')
    .requiredOption('--out <dir>', 'the grid output folder holding the finished rows')
    .option('--models <dir>', 'destination folder', 'models')
    .option('--rows <names>', 'comma-separated row names', rowList)
    .option('--finished', 'skip the rows not finished or not converged (say which) instead of refusing them')
    .option('--seeds <list>', "the training rows' seeds (default: each row's seeds in the config)", seedList)
    .action((o: { config: string; out: string; models: string; rows?: string[]; finished?: boolean; seeds?: number[] }) => {
      const config = o.seeds ? withSeeds(loadGridConfig(o.config), o.seeds) : loadGridConfig(o.config);
      const say = (l: string): void => { process.stderr.write(`${l}\n`); };
      for (const m of shipRows(config, { out: o.out, models: o.models, rows: o.rows, finishedOnly: !!o.finished, say })) {
        const seed = m.seed === undefined ? '' : ` (${seedText(m.seed, m.row!)})`;
        console.log(`${m.setting}: ${path.relative(process.cwd(), m.file)}, ${path.relative(process.cwd(), m.card)}${seed}`);
      }
    });
  common(exp.command('row').description('run (or continue) one row: all its seeds, or with --seed one of them (seeds of a row can run in parallel shells)'))
    .requiredOption('--row <name>', 'the row name')
    .option('--seed <n>', "run only this one of the row's seeds", int('--seed', 0))
    .action((o: RowCliOptions) => run({ ...o, rows: [o.row] }));
}
