/**
 * The HTTP publisher's transport: one request on node:http with a keep-alive agent. Not fetch: on
 * loopback a call costs well under a millisecond here where undici's fetch took about ten, and
 * a child makes one call per published page.
 */
import http from 'node:http';

export interface Reply {
  status: number;
  text: string;
}

/** One request on node:http; rejects on network errors, timeouts and aborts. */
export function send(
  agent: http.Agent,
  method: string,
  url: string,
  o: {
    headers: Record<string, string>;
    body: string | undefined;
    signal: AbortSignal | undefined;
    timeoutMs: number;
  },
): Promise<Reply> {
  const payload = o.body === undefined ? undefined : Buffer.from(o.body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method,
        agent,
        headers:
          payload === undefined ? o.headers : { ...o.headers, 'content-length': String(payload.length) },
        ...(o.signal === undefined ? {} : { signal: o.signal }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    // Without a signal a silent peer fails the call after timeoutMs.
    if (o.signal === undefined)
      req.setTimeout(o.timeoutMs, () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(payload);
  });
}
