/**
 * The crash test's child process (storage-conformance.ts, "a batch not committed is not there
 * after the process dies"). Argument: JSON { module, export, options, mode, bigPayloads }. It
 * opens the store with `(await import(module))[export](options)`, writes and commits the
 * committed batch, writes the uncommitted batch, and then dies without committing:
 *
 *   mode 'exit'   process.exit(0) right away
 *   mode 'kill'   prints 'ready' and waits for the parent's SIGKILL
 */

import { pathToFileURL } from 'node:url';
import type { Storage } from '../../../src/persistence/storage.js';
import { writeCommittedBatch, writeUncommittedBatch } from './storage-conformance-data.js';

interface ChildSpec {
  module: string;
  export: string;
  options: unknown;
  mode: 'exit' | 'kill';
  bigPayloads: number;
}

const spec = JSON.parse(process.argv[2] ?? '{}') as ChildSpec;
const mod = (await import(pathToFileURL(spec.module).href)) as Record<string, (options: unknown) => Storage>;
const storage = mod[spec.export]!(spec.options);
writeCommittedBatch(storage);
storage.commit();
writeUncommittedBatch(storage, spec.bigPayloads);
if (!storage.batchOpen) throw new Error('the uncommitted batch is not open');
if (spec.mode === 'exit') process.exit(0);
process.stdout.write('ready\n');
setInterval(() => {}, 1000);
