/** Paths for tests: compiled tests live in dist/test, data stays in the repo's test/data. */
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

export function dataPath(name: string): string {
  return fileURLToPath(new URL(`../../../test/data/${name}`, import.meta.url));
}

export function modulePath(rel: string): string {
  return fileURLToPath(new URL(`../../../node_modules/${rel}`, import.meta.url));
}
