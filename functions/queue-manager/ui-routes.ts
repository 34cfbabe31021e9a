/**
 * The status page (issue 15), on the manager's port:
 *   GET /ui                   the page (functions/queue-manager/ui/: HTML, one ES module, CSS)
 *   GET /ui/vendor/…          TradingView lightweight-charts (Apache-2.0) from node_modules, no CDN
 *   GET /stream/workflows     Server-Sent Events: every workflow change as it is folded
 *
 * The page's files carry no data and need no token; everything it shows comes from the API
 * (GET /workflows, /series, /series/…/candles, /graphs, /models) and the event stream, under the
 * API's bearer-token rules (auth.ts). The stream is read with fetch, not EventSource, so the page
 * can send the token in the Authorization header like every other call.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { streamSSE } from 'hono/streaming';
import type { Workflow } from '../../shared/contracts/workflow.ts';
import type { ChangeFeed } from './changes.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const CHARTS = join(
  dirname(require.resolve('lightweight-charts/package.json')),
  'dist/lightweight-charts.standalone.production.js',
);

interface Asset {
  body: Buffer;
  type: string;
  cache: string;
}

function asset(file: string, type: string, cache = 'no-cache'): Asset {
  return { body: readFileSync(file), type, cache };
}

/** A workflow as the stream sends it: without its timeline (the page asks for one when shown). */
export function summary(wf: Workflow): Omit<Workflow, 'timeline'> & { last?: Workflow['timeline'][number] } {
  const { timeline, ...rest } = wf;
  const last = timeline.at(-1);
  return last === undefined ? rest : { ...rest, last };
}

/**
 * `heartbeatMs`: comment lines this often keep proxies from closing an idle stream and let the
 * page notice a dead one.
 */
export function registerUiRoutes(app: OpenAPIHono, deps: { feed: ChangeFeed; heartbeatMs: number }): void {
  // Read once at start: the page is a few tens of kB.
  const assets: Record<string, Asset> = {
    '/ui': asset(join(HERE, 'ui/index.html'), 'text/html; charset=utf-8'),
    '/ui/app.js': asset(join(HERE, 'ui/app.js'), 'text/javascript; charset=utf-8'),
    '/ui/app.css': asset(join(HERE, 'ui/app.css'), 'text/css; charset=utf-8'),
    '/ui/vendor/lightweight-charts.js': asset(
      CHARTS,
      'text/javascript; charset=utf-8',
      'public, max-age=86400',
    ),
  };
  for (const [path, a] of Object.entries(assets))
    app.get(path, (c) => {
      c.header('content-type', a.type);
      c.header('cache-control', a.cache);
      c.header('x-content-type-options', 'nosniff');
      // Everything from this origin; the charts library sets element styles from script.
      c.header(
        'content-security-policy',
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
      );
      return c.body(new Uint8Array(a.body));
    });
  app.get('/ui/', (c) => c.redirect('/ui'));

  const heartbeat = deps.heartbeatMs;
  app.get('/stream/workflows', (c) => {
    c.header('cache-control', 'no-cache');
    c.header('x-accel-buffering', 'no');
    return streamSSE(c, async (stream) => {
      const queue: Workflow[] = [];
      let wake: (() => void) | undefined;
      const unsubscribe = deps.feed.subscribe((wf) => {
        queue.push(wf);
        wake?.();
      });
      let open = true;
      const end = (): void => {
        open = false;
        wake?.();
      };
      stream.onAbort(end);
      const unclose = deps.feed.onClose(end);
      try {
        // The page lists the workflows after this arrives, so it misses no change in between.
        await stream.writeSSE({ event: 'ready', data: JSON.stringify({ heartbeat_ms: heartbeat }) });
        while (open) {
          while (queue.length > 0 && open) {
            // Several changes of one workflow queued up: only its newest matters.
            const wf = queue.shift()!;
            if (queue.some((w) => w.queue_id === wf.queue_id)) continue;
            await stream.writeSSE({
              event: 'workflow',
              id: wf.updated_at,
              data: JSON.stringify(summary(wf)),
            });
          }
          if (!open) break;
          let timer: NodeJS.Timeout | undefined;
          await new Promise<void>((resolve) => {
            wake = resolve;
            timer = setTimeout(resolve, heartbeat);
          });
          clearTimeout(timer);
          wake = undefined;
          if (open && queue.length === 0) await stream.write(': ping\n\n');
        }
      } finally {
        unsubscribe();
        unclose();
      }
    });
  });
}
