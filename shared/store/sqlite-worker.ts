/**
 * The worker thread of the SQLite worker store (sqlite-worker-store.ts): owns the connection and
 * answers requests in the order they arrive. Loaded through sqlite-worker.mjs.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteDb, toStoreError, type SqliteDbOptions } from './sqlite-db.ts';
import {
  errorToWire,
  unpackColumns,
  type SqliteOp,
  type WorkerReply,
  type WorkerRequest,
} from './sqlite-worker-protocol.ts';

const port = parentPort;
if (!port) throw new Error('sqlite-worker.ts runs on a worker thread');

const options = workerData as SqliteDbOptions;
/** Opened on start, and again on the next request if that failed (the file may come back). */
let db: SqliteDb | undefined;
const open = (): SqliteDb => (db ??= new SqliteDb(options));
try {
  open();
} catch {
  // answered to the requests, as a DependencyError (503)
}

port.on('message', (req: WorkerRequest) => {
  if (req.op === 'close') {
    db?.close();
    port.close(); // nothing else keeps the thread alive: it ends
    return;
  }
  let reply: WorkerReply;
  try {
    if (req.op === 'writePacked') {
      reply = { id: req.id, value: open().writeSeries(req.args[0], unpackColumns(req.args[1])) };
    } else {
      const ops = open() as unknown as Record<SqliteOp, (...args: unknown[]) => unknown>;
      reply = { id: req.id, value: ops[req.op](...req.args) };
    }
  } catch (err) {
    reply = { id: req.id, error: errorToWire(toStoreError(err)) };
  }
  port.postMessage(reply);
});
