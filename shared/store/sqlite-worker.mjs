// Entry of the SQLite worker store's thread (sqlite-worker-store.ts), in plain JavaScript so that
// Node starts it without a TypeScript loader: a worker does not get the loader hooks that
// `node --import tsx` installed on the main thread (Node 20), and vitest's module runner does
// not reach worker threads either. tsImport loads sqlite-worker.ts through tsx in a namespace of
// its own, which works whether or not tsx is registered on this thread already.
import { tsImport } from 'tsx/esm/api';

await tsImport('./sqlite-worker.ts', import.meta.url);
