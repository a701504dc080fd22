/**
 * Bundles the browser app (web/) into dist/web. The core (src/formats, metrics, analysis, report) is
 * imported as TypeScript source — the same code the CLI runs. h5wasm (Keras .h5) stays a lazy chunk loaded
 * only when a Keras file is dropped.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('./web/', import.meta.url)),
  base: './',
  publicDir: false,
  build: {
    outDir: fileURLToPath(new URL('./dist/web/', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    chunkSizeWarningLimit: 6000,
    reportCompressedSize: false,
  },
  worker: { format: 'es' },
  logLevel: 'warn',
});
