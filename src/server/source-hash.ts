/**
 * Node-only: the content hash of a model's source file as ingest computed it (`hashModel`), to tell whether a
 * file the database was built from is still the same — the server re-reads weights only from such files.
 */
import { stat } from 'node:fs/promises';
import { discoverModels, hashModel } from '../store/walk.js';

/** Content hashes of source files by path, valid while size and mtime are unchanged (hashing is the slow part). */
const hashes = new Map<string, { size: number; mtimeMs: number; hash: string }>();
const MAX_CACHED = 64;

/** The current content hash of `path` (null when it is gone or not a model). */
export async function currentHash(path: string): Promise<string | null> {
  let st: Awaited<ReturnType<typeof stat>>;
  try {
    st = await stat(path);
  } catch {
    return null;
  }
  const known = hashes.get(path);
  if (known && known.size === st.size && known.mtimeMs === st.mtimeMs) return known.hash;
  const found = await discoverModels([path]);
  const candidate = found.candidates.find((c) => c.path === path) ?? found.candidates[0];
  if (!candidate) return null;
  const hash = await hashModel(candidate);
  if (hashes.size >= MAX_CACHED) hashes.delete(hashes.keys().next().value as string);
  hashes.set(path, { size: st.size, mtimeMs: st.mtimeMs, hash });
  return hash;
}
