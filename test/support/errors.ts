import assert from 'node:assert/strict';
import { FilterDbError } from '../../src/errors.js';

/** Awaits `promise` and asserts it rejects with a FilterDbError of `code`; returns the error. */
export async function rejectsWith(promise: Promise<unknown>, code: string): Promise<FilterDbError> {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof FilterDbError, `expected a FilterDbError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected a '${code}' error`);
}
