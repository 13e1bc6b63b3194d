// Entry point of the `gdnsq` command: wires subcommands (one file each) and prints errors
// as one line. No logic beyond wiring lives here.
import { Command, CommanderError } from 'commander';
import { version } from './version';
import { registerBench } from './bench';
import { registerDemo } from './demo';
import { registerTrain } from './train';
import { registerEval } from './eval';
import { registerPredict } from './predict';
import { registerQuantize } from './quantize';
import { registerReport } from './report';
import { registerInfo } from './info';
import { registerImport } from './import';
import { registerExport } from './export';
import { registerExperiment } from './experiment';


export function buildProgram(): Command {
  const program = new Command('gdnsq')
    .description('Quantization-aware fine-tuning to W4A4..W1A1 (GDNSQ) on libtorch')
    .version(version(), '-V, --version')
    .showHelpAfterError('(run gdnsq --help for usage)')
    .exitOverride();
  registerDemo(program);
  registerTrain(program);
  registerQuantize(program);
  registerEval(program);
  registerPredict(program);
  registerBench(program);
  registerReport(program);
  registerInfo(program);
  registerImport(program);
  registerExport(program);
  registerExperiment(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) process.exit(e.exitCode);
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(`gdnsq: ${msg.split('\n')[0]}\n`);
    if (process.env.GDNSQ_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    process.exit(1);
  }
}
