/**
 * `filterdb energy <file|--db zoo.duckdb> [--basis dct|FILE.npy] [--init FILE] [--json] [--svg FILE]`: the
 * first conv layer's energy profile over a basis of its patch space (definition in analysis/energy.ts); across
 * a database, the profile of each model's first layer rebuilt from its stored filters and the Pearson
 * correlation matrix of the profiles.
 */
import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import {
  type Basis,
  dctBasis,
  type EnergyProfile,
  energyProfile,
  firstConvLayerIndex,
  orthonormalityError,
  profileCorrelation,
} from '../../analysis/energy.js';
import { FilterDbError, fsErrorText } from '../../errors.js';
import { readModel } from '../../formats/detect.js';
import { parseNpyMatrix } from '../../formats/io/npy.js';
import { openModelInput } from '../../node/file-source.js';
import { energyProfileSvg } from '../../report/svg/energy.js';
import { openDb } from '../../store/db.js';
import { type FirstLayer, readFirstLayers } from '../../store/first-layer-read.js';
import { UsageError, writeNote, writeOut } from '../context.js';
import { fmtNumber, renderTable } from '../table.js';

interface EnergyCliOptions {
  db?: string;
  basis: string;
  init?: string;
  json?: boolean;
  svg?: string;
}

interface ModelEnergy extends EnergyProfile {
  model: string;
  layer: string;
  shape: number[];
}

/** Non-orthonormality (max |UUᵀ − I|) above which the user is told the basis is not orthonormal. */
const ORTHONORMAL_TOLERANCE = 1e-6;

export function registerEnergy(program: Command): void {
  program
    .command('energy')
    .description(
      "first conv layer's energy profile over a basis of its C·k·k patch space (default: per-channel 2-D DCT-II)",
    )
    .argument('[file]', 'model file or directory')
    .option('--db <file>', "DuckDB database: every model's first layer, from its stored filters")
    .option(
      '--basis <dct|FILE.npy>',
      'basis: dct, or a (C·k·k)×(C·k·k) float32/float64 .npy (rows are vectors)',
      'dct',
    )
    .option('--init <file>', 'initialisation checkpoint whose first layer is subtracted (files only)')
    .option('--json', 'print JSON')
    .option('--svg <file>', 'write the plot (energy vs basis index, log scale) to this SVG file')
    .action(async (file: string | undefined, opts: EnergyCliOptions) => {
      if (Boolean(file) === Boolean(opts.db))
        throw new UsageError('energy takes a model file or --db, not both');
      if (opts.db && opts.init) throw new UsageError('--init applies to a model file, not to --db');
      const npy = opts.basis === 'dct' ? null : await readBasisFile(opts.basis);
      const basisFor = (shape: number[], where: string): Basis => {
        const [, c, kh, kw] = shape;
        if (!npy) return dctBasis(c, kh, kw);
        if (npy.size !== c * kh * kw) {
          throw new FilterDbError(
            'unsupported',
            opts.basis,
            `the basis has ${npy.size} vectors but ${where}'s first layer [${shape.join(', ')}] has a ${c * kh * kw}-dimensional patch space`,
          );
        }
        return npy;
      };
      const results: ModelEnergy[] = [];
      const skipped: { model: string; layer: string | null; reason: string }[] = [];
      if (file) {
        const first = await loadFirstLayer(file);
        const init = opts.init ? await loadFirstLayer(opts.init) : null;
        if (init && init.shape.join('x') !== first.shape.join('x')) {
          throw new FilterDbError(
            'unsupported',
            opts.init!,
            `its first layer is [${init.shape.join(', ')}], the model's is [${first.shape.join(', ')}]`,
          );
        }
        const basis = basisFor(first.shape, first.model);
        results.push({ ...energyProfile(first.weights, basis, init?.weights), ...pick(first) });
      } else {
        for (const item of await loadFirstLayersFromDb(opts.db!)) {
          if ('reason' in item) skipped.push(item);
          else
            results.push({ ...energyProfile(item.weights, basisFor(item.shape, item.model)), ...pick(item) });
        }
      }
      let orthoError: number | null = null;
      if (npy) {
        orthoError = orthonormalityError(npy);
        if (orthoError > ORTHONORMAL_TOLERANCE)
          writeNote(
            `${opts.basis}: the basis is not orthonormal (max |UUᵀ − I| = ${orthoError.toExponential(2)}); energies are plain projections`,
          );
      }
      for (const s of skipped) writeNote(`${s.model}: skipped (${s.reason})`);
      const correlation = opts.db ? profileCorrelation(results.map((r) => r.profile)) : null;
      const labels = (r: ModelEnergy) => (npy ? npy.labels : basisFor(r.shape, r.model).labels);
      if (opts.svg) {
        const svg = energyProfileSvg(
          results.map((r) => ({ label: r.model, profile: r.profile })),
          { title: 'First-layer energy profile', subtitle: `basis: ${opts.basis}` },
        );
        try {
          await writeFile(opts.svg, svg);
        } catch (e) {
          throw new FilterDbError('missing-file', opts.svg, `cannot write the plot: ${fsErrorText(e)}`);
        }
      }
      if (opts.json) {
        await writeOut(
          `${JSON.stringify({
            basis: opts.basis,
            basisOrthonormalityError: orthoError,
            init: opts.init ?? null,
            models: results.map((r) => ({ ...r, basisLabels: labels(r) })),
            skipped,
            correlation: correlation ? { models: results.map((r) => r.model), matrix: correlation } : null,
          })}\n`,
        );
        return;
      }
      const out: string[] = [];
      for (const r of results) {
        out.push(
          `${r.model}: first layer ${r.layer} [${r.shape.join(', ')}], ${r.filters} filters, ${r.size}-dimensional patch space, basis ${opts.basis}`,
        );
        if (!opts.db) {
          const names = labels(r);
          out.push(
            renderTable(
              [
                { header: 'index', right: true },
                { header: 'basis vector' },
                { header: 'energy', right: true },
                { header: 'energy / max', right: true },
              ],
              r.energy.map((e, i) => [i, names[i], fmtNumber(e, 6), fmtNumber(r.profile[i], 4)]),
            ),
          );
        }
      }
      if (correlation && results.length > 0) {
        out.push('', 'Pearson correlation of the profiles (– where the patch spaces differ):');
        out.push(
          renderTable(
            [{ header: 'model' }, ...results.map((_, j) => ({ header: `#${j}`, right: true }))],
            correlation.map((row, i) => [
              `#${i} ${results[i].model}`,
              ...row.map((v) => (v === null ? '–' : fmtNumber(v, 3))),
            ]),
          ),
        );
      }
      if (results.length === 0) out.push('no first layer to measure');
      await writeOut(`${out.join('\n')}\n`);
    });
}

function pick(l: FirstLayer): { model: string; layer: string; shape: number[] } {
  return { model: l.model, layer: l.layer, shape: l.shape };
}

async function readBasisFile(path: string): Promise<Basis> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new FilterDbError('missing-file', path, `cannot read the basis: ${fsErrorText(e)}`);
  }
  const m = parseNpyMatrix(bytes, path);
  if (m.rows !== m.cols || m.rows === 0) {
    throw new FilterDbError(
      'unsupported',
      path,
      `a basis must be square and non-empty, this is ${m.rows}×${m.cols}`,
    );
  }
  for (const v of m.data) {
    if (!Number.isFinite(v))
      throw new FilterDbError('corrupt', path, 'the basis holds NaN or infinite values');
  }
  return { size: m.rows, vectors: m.data, labels: Array.from({ length: m.rows }, (_, i) => `u${i}`) };
}

async function loadFirstLayer(file: string): Promise<FirstLayer> {
  const model = await readModel(await openModelInput(file));
  const i = firstConvLayerIndex(model.layers);
  if (i < 0) throw new FilterDbError('not-a-model', file, 'has no 2-D convolution layer');
  const layer = model.layers[i];
  return { model: model.source, layer: layer.name, shape: layer.shape, weights: await layer.loadWeight() };
}

/** Each model's first conv layer rebuilt from the database's stored filters (store/first-layer-read.ts). */
async function loadFirstLayersFromDb(
  path: string,
): Promise<(FirstLayer | { model: string; layer: string | null; reason: string })[]> {
  const db = await openDb(path, { readOnly: true });
  try {
    return (await readFirstLayers(db.connection)).map((x) =>
      'reason' in x
        ? { model: x.model, layer: x.layer, reason: x.reason }
        : { model: x.model, layer: x.layer, shape: x.shape, weights: x.weights },
    );
  } finally {
    db.close();
  }
}
