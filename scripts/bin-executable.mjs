// Marks the command line's entry point executable after a build: `npx filterdb` runs it directly when npm
// resolves the project's own bin from the tree on disk (e.g. after tests touched node_modules), and tsc
// writes new files without the execute bit.
import { chmodSync } from 'node:fs';

chmodSync(new URL('../dist/src/cli/main.js', import.meta.url), 0o755);
