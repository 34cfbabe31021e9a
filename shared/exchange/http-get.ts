/**
 * The exchange client's transport: one GET, answered with status, headers and the whole body as
 * text. The default runs on node:http/https with a keep-alive agent per client. Node's fetch
 * (undici) did the same job with about 1 ms more CPU per 160 KB klines page (WHATWG streams,
 * Request/Response objects), a tenth of the loader's work per page; `fetchTransport` keeps fetch
 * available (tests, other runtimes).
 *
 * Like fetch, the transport asks for gzip or deflate (Binance compresses when asked) and decodes
 * what the server chose; the body is decoded as UTF-8. Any failure — connection refused or reset,
 * the body cut short, the signal aborting — rejects; when the signal aborted, the rejection's
 * `cause` is the signal's reason (a `TimeoutError` for AbortSignal.timeout), as with fetch.
 */
import http from 'node:http';
import https from 'node:https';
import { promisify } from 'node:util';
import zlib from 'node:zlib';

export interface HttpAnswer {
  status: number;
  headers: Headers;
  text: string;
}

/** GET `url` with `accept: application/json`; rejects on any failure to get a complete answer. */
export type HttpGet = (url: string, signal: AbortSignal) => Promise<HttpAnswer>;

const gunzip = promisify(zlib.gunzip);
const inflate = promisify(zlib.inflate);
const brotli = promisify(zlib.brotliDecompress);

/** Decompresses off the main thread (zlib's thread pool). */
async function decode(body: Buffer, encoding: string | undefined): Promise<string> {
  switch (encoding?.trim().toLowerCase()) {
    case undefined:
    case '':
    case 'identity':
      return body.toString('utf8');
    case 'gzip':
    case 'x-gzip':
      return (await gunzip(body)).toString('utf8');
    case 'deflate':
      return (await inflate(body)).toString('utf8');
    case 'br':
      return (await brotli(body)).toString('utf8');
    default:
      throw new Error(`unsupported content-encoding ${encoding}`);
  }
}

/** A transport over node:http/https; its idle keep-alive sockets do not keep the process alive. */
export function createHttpGet(): HttpGet {
  const agents = {
    http: new http.Agent({ keepAlive: true }),
    https: new https.Agent({ keepAlive: true }),
  };
  return async (url, signal) => {
    const target = new URL(url);
    const secure = target.protocol === 'https:';
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = (secure ? https : http).get(
        target,
        {
          agent: secure ? agents.https : agents.http,
          headers: { accept: 'application/json', 'accept-encoding': 'gzip, deflate' },
          signal,
        },
        resolve,
      );
      req.on('error', reject);
    });
    const chunks: Buffer[] = [];
    // Async iteration rejects when the body is cut short (reset, abort), not only on 'error'.
    for await (const chunk of res) chunks.push(chunk as Buffer);
    const headers = new Headers();
    const raw = res.rawHeaders;
    for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
    const text = await decode(Buffer.concat(chunks), res.headers['content-encoding']);
    return { status: res.statusCode ?? 0, headers, text };
  };
}

/** The same contract over a fetch implementation. */
export function fetchTransport(doFetch: typeof fetch): HttpGet {
  return async (url, signal) => {
    const res = await doFetch(url, { headers: { accept: 'application/json' }, signal });
    return { status: res.status, headers: res.headers, text: await res.text() };
  };
}
