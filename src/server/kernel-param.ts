/** The `kernel` field of the analysis endpoints' bodies (`/api/compare`, `/api/cohorts`): `--kernel` of the CLI. */
import { type KernelSize, parseKernelSize } from '../scan/kernel-size.js';
import { HttpError } from './http.js';

/** The body's `kernel` ("5x5"; absent, null or "" → 3x3), or a 400 naming what is wrong. */
export function kernelParam(value: unknown): KernelSize {
  if (value === undefined || value === null || value === '') return parseKernelSize(undefined);
  if (typeof value !== 'string')
    throw new HttpError(400, 'bad-request', '"kernel" must be a string such as "5x5"');
  try {
    return parseKernelSize(value);
  } catch (e) {
    throw new HttpError(400, 'bad-request', `"kernel": ${(e as Error).message.replace(/^--kernel /, '')}`);
  }
}
