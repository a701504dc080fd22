/** The server's JSON API (docs/API.md), typed for the pages. */
import type { StoredInitDistance } from '../../src/metrics/init-distance.js';

export type { LayerWeights } from '../../src/server/layer-weights-answer.js';

export interface ApiInfo {
  name: string;
  version: string;
  db: string | null;
  readOnly: boolean;
  maxUpload: number;
  maxUploadText: string;
  counts?: { models: number; layers: number; filters: number; filtersOther: number };
  metaColumns?: string[];
  /** Distinct values per metadata key. */
  metaDistinct?: Record<string, number>;
  /** Whether every value of a metadata key is a number. */
  metaNumeric?: Record<string, boolean>;
  layerColumns?: string[];
}

export interface Flag {
  id: string;
  reason: string;
}

export interface ModelSummary {
  id: number;
  name: string;
  file: string;
  format: string | null;
  bytes: number | null;
  convLayers: number | null;
  filters3x3: number | null;
  storedFilters: number | null;
  meta: Record<string, string | null>;
  health: {
    layers: number;
    degenerated: number;
    notAssessed: number;
    orthogonalityNotMeasured: number;
    flags: Record<string, number>;
  };
}

export interface LayerRow {
  layerId: number;
  index: number;
  name: string;
  op: string;
  kind: string | null;
  shape: number[] | null;
  groups: number | null;
  convDepth: number | null;
  convDepthNorm: number | null;
  metrics: {
    sparsity: number | null;
    varianceEntropyNorm: number | null;
    orthogonality: number | null;
  } & Record<string, number | null>;
  flags: Flag[];
  /** What was not measured for the layer ("orthogonality", "metrics and flags"); empty when nothing. */
  notMeasured: string[];
  storedFilters: number;
  /** WeightWatcher-style spectral metrics (all null when not computed at ingest). */
  spectral: Record<string, number | null>;
  spectralReason: string | null;
  trainingFlags: Flag[];
  /** Distance from random initialisation (null when not computed at ingest). */
  init: StoredInitDistance | null;
}

export interface ModelDetail extends ModelSummary {
  warnings: string[];
  layers: LayerRow[];
}

export interface LayerFilters {
  name: string;
  shape: number[];
  fullShape: number[] | null;
  stored: number;
  returned: number;
  weights: number[];
}

export interface CompareAnswer {
  by: string;
  /** The kernel size when not 3x3 (the request's `kernel`). */
  kernel?: string;
  groups: string[];
  counts: number[];
  matrix: number[][];
  explainedVarianceRatio: number[];
  components: number[][];
  filterCount: number;
  /** Layers (and their filters) left out because their weights hold NaN or infinite values. */
  nonFinite?: { layers: number; filters: number };
  ridges: { index: number; curves: { label: string; x: number[]; y: number[]; n?: number }[] }[];
  seconds: number;
}

/** The compare answer to a `by` array: one answer per grouping, from one read of the filters. */
export interface CompareManyAnswer {
  results: CompareAnswer[];
  seconds: number;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function answer<T>(res: Response): Promise<T> {
  const text = await res.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    throw new ApiError(res.status, `the server answered ${res.status} with non-JSON: ${text.slice(0, 200)}`);
  }
  if (!res.ok) {
    const msg = (body as { error?: { message?: string } })?.error?.message ?? `HTTP ${res.status}`;
    throw new ApiError(res.status, msg);
  }
  return body as T;
}

export async function getJson<T>(path: string): Promise<T> {
  return answer<T>(await fetch(path, { headers: { accept: 'application/json' } }));
}

export async function postJson<T>(path: string, body: unknown): Promise<T> {
  return answer<T>(
    await fetch(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }),
  );
}

export async function postBytes<T>(path: string, body: Blob, type = 'application/octet-stream'): Promise<T> {
  return answer<T>(await fetch(path, { method: 'POST', headers: { 'content-type': type }, body }));
}

let infoPromise: Promise<ApiInfo> | null = null;

/** Server info (cached); a server without the API (static hosting) counts as "no database". */
export function info(refresh = false): Promise<ApiInfo> {
  if (refresh || !infoPromise)
    infoPromise = getJson<ApiInfo>('/api/info').catch(() => ({
      name: 'filterdb',
      version: '',
      db: null,
      readOnly: true,
      maxUpload: 0,
      maxUploadText: '0',
    }));
  return infoPromise;
}
