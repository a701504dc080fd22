/** Messages between the page and the analysis worker. */
import type { QualityReport } from '../../src/metrics/layer-report.js';

export type ToWorker =
  | { type: 'analyse'; files: File[]; main: string }
  | { type: 'layer'; name: string; request: number }
  | { type: 'report'; request: number };

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
      /** Milliseconds: reading the model, measuring, total in the worker. */
      timings: { read: number; measure: number; total: number };
    }
  | { type: 'layer'; request: number; name: string; shape: number[]; weight: Float32Array }
  | { type: 'report'; request: number; html: string }
  | { type: 'error'; message: string; request?: number };
