/**
 * One HTTP POST on node:http(s) with a keep-alive agent. The dispatcher sends one request per
 * record, so the client's per-request cost is the runner's throughput: here fetch (undici) took
 * 9–28 ms per small POST on loopback where node:http takes under 1 ms (bench/runner.ts).
 */
import http from 'node:http';
import https from 'node:https';

export interface PostResponse {
  status: number;
  headers: Headers;
  /** The first `maxBody` bytes of the body (the rest is read and dropped). */
  body: Buffer;
}

/** Keep-alive agents for one runner; `destroy()` closes their idle sockets. */
export interface Agents {
  http: http.Agent;
  https: https.Agent;
  destroy(): void;
}

export function createAgents(): Agents {
  const a = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };
  return {
    ...a,
    destroy() {
      a.http.destroy();
      a.https.destroy();
    },
  };
}

/** POSTs `body`; rejects on network errors, timeouts and aborts (never on an HTTP status). */
export function httpPost(
  url: string,
  headers: Record<string, string>,
  body: string,
  opts: { agents: Agents; timeoutMs: number; signal: AbortSignal; maxBody: number },
): Promise<PostResponse> {
  const u = new URL(url);
  const secure = u.protocol === 'https:';
  const payload = Buffer.from(body);
  return new Promise((resolve, reject) => {
    const req = (secure ? https : http).request(
      u,
      {
        method: 'POST',
        agent: secure ? opts.agents.https : opts.agents.http,
        headers: { ...headers, 'content-length': String(payload.length) },
        signal: opts.signal,
      },
      (res) => {
        const kept: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          if (size < opts.maxBody) kept.push(chunk.subarray(0, opts.maxBody - size));
          size += chunk.length;
        });
        res.on('error', reject);
        res.on('end', () => {
          const h = new Headers();
          for (const [name, value] of Object.entries(res.headers)) {
            if (value !== undefined) h.set(name, Array.isArray(value) ? value.join(', ') : value);
          }
          resolve({ status: res.statusCode ?? 0, headers: h, body: Buffer.concat(kept) });
        });
      },
    );
    req.setTimeout(opts.timeoutMs, () =>
      req.destroy(Object.assign(new Error('request timed out'), { code: 'ETIMEDOUT' })),
    );
    req.on('error', reject);
    req.end(payload);
  });
}
