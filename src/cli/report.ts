// `gdnsq report`: plots and a Markdown page from a train or quantize run folder.
import { Command } from 'commander';
import { writeReport } from '../report';

export function registerReport(program: Command): void {
  program
    .command('report')
    .description('write the plots (bits, training, descent, capacity; SVG and PNG) and report.md into a run folder')
    .requiredOption('--run <dir>', 'a run folder written by gdnsq train or gdnsq quantize')
    .action(async (o: { run: string }) => {
      for (const file of await writeReport(o.run)) console.log(file);
    });
}
