/** Progress bars on stderr (only when stderr is a terminal, so pipes and CI logs stay clean). */
import cliProgress from 'cli-progress';

export interface Progress {
  update(done: number, total?: number, payload?: Record<string, string | number>): void;
  stop(): void;
}

const silent: Progress = { update() {}, stop() {} };

export function progressBar(label: string, total: number, format?: string): Progress {
  if (!process.stderr.isTTY || process.env.FILTERDB_NO_PROGRESS) return silent;
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: format ?? `${label} [{bar}] {percentage}% | {value}/{total} | {eta_formatted}`,
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0);
  return {
    update(done, newTotal, payload) {
      if (newTotal !== undefined) bar.setTotal(newTotal);
      bar.update(done, payload);
    },
    stop() {
      bar.stop();
    },
  };
}

/**
 * One bar over several scans of `filters` filters each: `onProgress(n, pass)` reports `n` filters of the
 * named pass (scan/analyses.ts); a new pass name moves the bar's base on by a whole scan.
 */
export function scanProgress(
  label: string,
  filters: number,
  passes: number,
): { onProgress: (n: number, pass: string) => void; stop(): void } {
  const bar = progressBar(label, filters * passes);
  let base = 0;
  let last = '';
  return {
    onProgress(n, pass) {
      if (pass !== last) {
        if (last) base += filters;
        last = pass;
      }
      bar.update(base + n);
    },
    stop: () => bar.stop(),
  };
}
