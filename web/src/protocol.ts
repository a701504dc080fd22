/** Messages between the page and the analysis worker. */
import type { AtlasView } from '../../src/analysis/atlas-view.js';
import type { QualityReport } from '../../src/metrics/layer-report.js';
import type { ReportEnergy } from '../../src/report/atlas-section.js';

export type ToWorker =
  | { type: 'analyse'; files: File[]; main: string }
  | { type: 'layer'; name: string; request: number };

export interface BasisInfo {
  components: number[][];
  explainedVarianceRatio: number[];
  filters: number;
  layers: number;
}

export type FromWorker =
  | { type: 'progress'; phase: 'reading' | 'measuring' | 'basis'; done: number; total: number }
  | {
      type: 'result';
      report: QualityReport;
      basis: BasisInfo | null;
      basisNote: string | null;
      /** Depthwise kernel atlas and first-layer energy profile (null: no such layers). */
      atlas: AtlasView | null;
      energy: ReportEnergy | null;
      /** Milliseconds: reading the model, measuring, total in the worker. */
      timings: { read: number; measure: number; total: number };
    }
  | { type: 'layer'; request: number; name: string; shape: number[]; weight: Float32Array }
  | { type: 'error'; message: string; request?: number };
