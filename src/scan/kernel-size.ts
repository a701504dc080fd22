/**
 * The filter space of a distribution analysis (`shift`, `pca`, `cohorts` `--kernel KxK`): the stored filters
 * of one kernel size, kh·kw values each. 3x3 filters live in the `filters` table (w0..w8, the fast path of
 * the WebAssembly kernels and stored layer statistics); every other size in `filters_other` (`ingest
 * --kernel all`), scanned by the generic passes of kxk-passes.ts.
 */

export interface KernelSize {
  kh: number;
  kw: number;
}

export const KERNEL_3X3: KernelSize = Object.freeze({ kh: 3, kw: 3 });

/**
 * Most values a filter may have (a 32x32 kernel): the moments hold dims² float64 per superblock and the
 * histograms groups × dims × bins counts, so the bound keeps both to a few MB. Larger kernels (RepLKNet's
 * 31x31 fit; nothing published is larger) are refused before any scan.
 */
export const MAX_KERNEL_DIMS = 1024;

/** Values per filter. */
export function kernelDims(k: KernelSize): number {
  return k.kh * k.kw;
}

export function kernelLabel(k: KernelSize): string {
  return `${k.kh}x${k.kw}`;
}

export function isKernel3x3(k: KernelSize): boolean {
  return k.kh === 3 && k.kw === 3;
}

/**
 * Parses `--kernel` (`5x5`, `7x7`, `1x7`; default 3x3). A RangeError (exit 2 in the CLI) names what is wrong.
 */
export function parseKernelSize(text: string | undefined): KernelSize {
  if (text === undefined) return KERNEL_3X3;
  const m = /^\s*(\d{1,4})\s*[x×]\s*(\d{1,4})\s*$/i.exec(text);
  if (!m)
    throw new RangeError(
      `--kernel takes a kernel size such as 3x3, 5x5 or 7x7 (height x width), not ${JSON.stringify(text)}`,
    );
  const kh = Number(m[1]);
  const kw = Number(m[2]);
  if (kh < 1 || kw < 1) throw new RangeError(`--kernel ${text}: both sides must be at least 1`);
  if (kh * kw < 2)
    throw new RangeError(
      `--kernel ${text}: a 1x1 filter has one value, which peak scaling turns into ±1 or 0 — there is no filter space to analyse`,
    );
  if (kh * kw > MAX_KERNEL_DIMS)
    throw new RangeError(
      `--kernel ${text}: ${kh * kw} values per filter, more than the ${MAX_KERNEL_DIMS} (32x32) these analyses hold`,
    );
  return kh === 3 && kw === 3 ? KERNEL_3X3 : { kh, kw };
}

/** The SQL condition (on layer_info / layers) of the layers whose stored filters have this size. */
export function storedLayersCondition(k: KernelSize): string {
  // CNN Filter DB counts Conv layers only: transposed convolutions are left out
  const common = "filter_count > 0 AND coalesce(kind, '') <> 'transposed'";
  if (isKernel3x3(k)) return `filter_table = 'filters' AND ${common}`;
  return `filter_table = 'filters_other' AND kh = ${k.kh} AND kw = ${k.kw} AND ${common}`;
}
