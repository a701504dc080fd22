/** `filterdb inspect <file>`: conv layers, kinds, shapes, dtypes, depths. */
import type { Command } from 'commander';
import { readModel } from '../../formats/detect.js';
import { kernelLabel } from '../../model/types.js';
import { openModelInput } from '../../node/file-source.js';
import { writeOut } from '../context.js';
import { renderTable } from '../table.js';

export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description('list the convolution layers of a model file: name, op, kind, shape, groups, dtype, depth')
    .argument('<file>', 'model file or directory (ONNX, PyTorch, safetensors, TF.js, Keras, TFLite)')
    .option('--json', 'print JSON on stdout')
    .action(async (file: string, opts: { json?: boolean }) => {
      const model = await readModel(await openModelInput(file));
      const layers = model.layers.map((l) => ({
        name: l.name,
        op: l.op,
        kind: l.kind,
        shape: l.shape,
        groups: l.groups,
        dtype: l.dtype,
        graphDepth: l.graphDepth,
        convDepth: l.convDepth,
        convDepthNorm: l.convDepthNorm,
        attributes: l.attributes ?? null,
      }));
      if (opts.json) {
        const out = {
          file: model.source,
          format: model.format,
          producer: model.producer ?? null,
          opset: model.opset ?? null,
          graphDepthKnown: model.graphDepthKnown,
          layers,
          warnings: model.warnings,
        };
        await writeOut(JSON.stringify(out, null, 2) + '\n');
        return;
      }
      const header = [
        `${model.source}: ${model.format}${model.producer ? ` (${model.producer})` : ''}${model.opset ? `, opset ${model.opset}` : ''}`,
        `${model.layers.length} conv layers; depth from ${model.graphDepthKnown ? 'the operator graph' : 'storage order'}`,
      ];
      const table = renderTable(
        [
          { header: '#', right: true },
          { header: 'layer' },
          { header: 'op' },
          { header: 'kind' },
          { header: 'shape' },
          { header: 'kernel' },
          { header: 'groups', right: true },
          { header: 'dtype' },
          { header: 'depth', right: true },
          { header: 'depth norm', right: true },
        ],
        model.layers.map((l, i) => [
          i,
          l.name,
          l.op,
          l.kind ?? '?',
          l.shape.join('x'),
          kernelLabel(l.shape),
          l.groups ?? '?',
          l.dtype,
          l.convDepth,
          l.convDepthNorm.toFixed(3),
        ]),
      );
      const warnings = model.warnings.map((w) => `warning: ${w}`);
      await writeOut([...header, '', table, ...warnings].join('\n') + '\n');
    });
}
