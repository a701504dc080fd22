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

/** Plain words for the file-system errors users meet, instead of errno codes. */
const FS_ERROR_WORDS = new Map<string, string>([
  ['ENOENT', 'no such file or folder'],
  ['ENOTDIR', 'a part of the path is a file, not a folder'],
  ['EISDIR', 'is a folder, not a file'],
  ['EACCES', 'permission denied'],
  ['EPERM', 'operation not permitted'],
  ['EEXIST', 'already exists'],
  ['ENOSPC', 'no space left on the device'],
  ['EROFS', 'the file system is read-only'],
  ['EMFILE', 'too many open files'],
  ['ENAMETOOLONG', 'the file name is too long'],
  ['ELOOP', 'too many symbolic links in the path'],
  ['EBUSY', 'the file is busy'],
]);

/**
 * A Node file-system error in words ("no such file or folder"), without the errno code and the path (the
 * caller's message names the file). Other errors keep their first line.
 */
export function fsErrorText(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  const words = typeof code === 'string' ? FS_ERROR_WORDS.get(code) : undefined;
  if (words) return words;
  const message = e instanceof Error ? e.message : String(e);
  // "ENOENT: no such file or directory, open '/x'" → "no such file or directory"
  return message
    .replace(/^E[A-Z]+: /, '')
    .replace(/, \w+ '.*$/, '')
    .split('\n')[0];
}

/** {@link fsErrorText} for creating a folder: there EEXIST means a file stands where a folder should be. */
export function mkdirErrorText(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  return code === 'EEXIST' || code === 'ENOTDIR'
    ? 'a part of the path is a file, not a folder'
    : fsErrorText(e);
}
