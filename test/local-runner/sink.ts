/** A recording HTTP sink on 127.0.0.1 port 0 whose answers a test scripts per request. */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

export interface Answer {
  status: number;
  body?: string;
  headers?: Record<string, string>;
  /** Wait this long before answering. */
  delayMs?: number;
}

export interface TestSink {
  url: string;
  received: Received[];
  /** Requests being handled right now, per `ce-subject` (the tests put the record key there). */
  maxConcurrentPerSubject(): number;
  maxConcurrent(): number;
  close(): Promise<void>;
}

/** `answer(req, n)` decides the response to the n-th request (0-based); default 202. */
export async function startSink(
  answer: (r: Received, n: number) => Answer | Promise<Answer> = () => ({ status: 202 }),
): Promise<TestSink> {
  const received: Received[] = [];
  const current = new Map<string, number>();
  let maxPer = 0;
  let inFlight = 0;
  let maxAll = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: Received = {
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        at: Date.now(),
      };
      const n = received.length;
      received.push(r);
      const subject = String(req.headers['ce-subject'] ?? '');
      current.set(subject, (current.get(subject) ?? 0) + 1);
      maxPer = Math.max(maxPer, current.get(subject) ?? 0);
      inFlight++;
      maxAll = Math.max(maxAll, inFlight);
      void (async () => {
        const a = await answer(r, n);
        if (a.delayMs) await new Promise((ok) => setTimeout(ok, a.delayMs));
        current.set(subject, (current.get(subject) ?? 1) - 1);
        inFlight--;
        res.writeHead(a.status, a.headers ?? {});
        res.end(a.body ?? '');
      })();
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    maxConcurrentPerSubject: () => maxPer,
    maxConcurrent: () => maxAll,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

/** Polls until `cond` holds (or throws after `timeoutMs`). */
export async function until(cond: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((ok) => setTimeout(ok, 10));
  }
}
