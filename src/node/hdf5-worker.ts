/**
 * Node-only: the worker side of hdf5-remote.ts. Owns one h5wasm instance, opens files on request and runs
 * method calls on them; every answer goes to the shared port and then wakes the waiting thread.
 */
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { isFilterDbError } from '../errors.js';
import { type LocalHdf5File, openLocalHdf5 } from '../formats/io/hdf5.js';
import { bytesSource } from '../formats/io/source.js';
import type { WorkerRequest, WorkerResponse } from './hdf5-remote.js';

const { port, flag } = workerData as { port: MessagePort; flag: Int32Array };
const files = new Map<number, LocalHdf5File>();
let nextId = 0;

async function handle(req: WorkerRequest): Promise<unknown> {
  if (req.op === 'open') {
    const input = req.input;
    const file =
      'path' in input
        ? await openLocalHdf5({ path: input.path, name: input.name })
        : await openLocalHdf5(bytesSource(input.name, input.bytes));
    files.set(++nextId, file);
    return { file: nextId, name: file.name, size: file.size };
  }
  const file = files.get(req.file);
  if (!file) throw new Error(`no open file ${req.file}`);
  if (req.method === 'ioStats') return file.ioStats;
  if (req.method === 'close') {
    files.delete(req.file);
    file.close();
    return null;
  }
  const method = (file as unknown as Record<string, (...args: unknown[]) => unknown>)[req.method];
  if (typeof method !== 'function') throw new Error(`no HDF5 method ${req.method}`);
  return method.apply(file, req.args);
}

parentPort?.on('message', async (req: WorkerRequest) => {
  let res: WorkerResponse;
  try {
    res = { seq: req.seq, ok: true, value: await handle(req) };
  } catch (e) {
    res = {
      seq: req.seq,
      ok: false,
      error: isFilterDbError(e)
        ? { code: e.code, file: e.file, message: e.message }
        : { code: null, file: '', message: String((e as Error)?.message ?? e) },
    };
  }
  try {
    port.postMessage(res);
  } catch (e) {
    port.postMessage({ seq: req.seq, ok: false, error: { code: null, file: '', message: String(e) } });
  }
  Atomics.store(flag, 0, req.seq);
  Atomics.notify(flag, 0);
});
