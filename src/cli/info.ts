// `gdnsq info FILE`: prints what a model file holds (export/info.ts).
import { Command } from 'commander';
import { modelInfo, formatInfo } from '../export/info';

export function registerInfo(program: Command): void {
  program
    .command('info')
    .description('describe a model file: checkpoint, packed or ONNX (architecture, bits, sizes, card)')
    .argument('<file>', 'a .safetensors checkpoint or packed file, or an .onnx file written by gdnsq')
    .option('--json', 'print one JSON line')
    .action((file: string, o: { json?: boolean }) => {
      const i = modelInfo(file);
      console.log(o.json ? JSON.stringify(i) : formatInfo(i));
    });
}
