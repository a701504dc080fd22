/** Typed errors for bad input. The CLI prints `message` (which names the file) and exits 1. */

export type ErrorCode =
  | 'unsupported-format' // no reader recognises the file
  | 'truncated' // the file ends before a structure it declares
  | 'corrupt' // a structure is inconsistent (bad offsets, cycles, impossible sizes)
  | 'unsafe' // the file asks for something we refuse (pickle global outside the allow-list, …)
  | 'too-large' // a declared size exceeds the file or a sane limit
  | 'missing-file' // a manifest or index names a file that is not there
  | 'not-a-model' // a valid file of a known container type that holds no model we understand
  | 'unsupported' // a valid feature we do not read (yet)
  | 'locked' // a database another process holds open for writing
  | 'read-only'; // a change asked of a database opened read-only

export class FilterDbError extends Error {
  readonly code: ErrorCode;
  readonly file: string;
  constructor(code: ErrorCode, file: string, detail: string) {
    super(`${file}: ${detail}`);
    this.name = 'FilterDbError';
    this.code = code;
    this.file = file;
  }
}

export function isFilterDbError(e: unknown): e is FilterDbError {
  return e instanceof FilterDbError;
}
