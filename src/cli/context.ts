/** Shared CLI plumbing: exit codes and error reporting per the CLI contract. */
import { isFilterDbError } from '../errors.js';

/** A usage error: exit code 2. */
export class UsageError extends Error {}

export function reportAndExit(e: unknown): never {
  if (isFilterDbError(e)) {
    process.stderr.write(`filterdb: ${e.message}\n`);
    process.exit(1);
  }
  if (e instanceof UsageError || e instanceof RangeError) {
    process.stderr.write(`filterdb: ${e.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`filterdb: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
  process.exit(70);
}

/** A note for the user on stderr (after `filterdb: `), when there is one. */
export function writeNote(text: string | null): void {
  if (text) process.stderr.write(`filterdb: ${text}\n`);
}

/** Writes to stdout and resolves when flushed (large JSON to a pipe must not be cut by process.exit). */
export function writeOut(text: string): Promise<void> {
  return new Promise((resolve, reject) =>
    process.stdout.write(text, (err) => (err ? reject(err) : resolve())),
  );
}
