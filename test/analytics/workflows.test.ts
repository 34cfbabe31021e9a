/**
 * graph_build and gnn_train end to end on `npm start`'s platform (embedded: in-process bus,
 * SQLite, the trainer as a child process): a synthetic market with a known lead-lag graph is
 * stored as klines, a graph is built through `POST /workflows`, read back through `GET /graphs`,
 * a GNN is trained on it as a Job, registered, listed and asked for predictions over HTTP.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { GraphInfo, ModelInfo } from '../../shared/contracts/analytics.ts';
import { canonicalCollection } from '../../shared/contracts/events.ts';
import { seriesRecord } from '../../shared/store/store.ts';
import { createRegistry } from '../../shared/analytics/registry.ts';
import type { Platform } from '../../functions/platform/platform.ts';
import { syntheticMarket } from '../../functions/dummy-service/synthetic-market.ts';
import { startTestPlatform, type TestPlatform } from '../platform/start.ts';

const market = syntheticMarket({ symbols: 6, bars: 24 * 120, seed: 11, start: Date.UTC(2023, 0, 1) });
const FROM = '2023-01-01';
const TO = '2023-05-01'; // 120 days

describe('graph_build and gnn_train through the API (embedded platform)', () => {
  let running: TestPlatform | undefined;
  let platform: Platform;

  const post = async (body: unknown) =>
    fetch(`${platform.url}/workflows`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const ended = (queueId: string, timeout = 120_000) =>
    vi.waitFor(
      async () => {
        const w = (await (await fetch(`${platform.url}/workflows/${queueId}`)).json()) as {
          status: string;
          error?: { code: string; message: string };
          records_written: number;
          progress?: { training?: { epoch: number; backend: string }; percent?: number };
          timeline: { producer: string; status: string; message: string }[];
        };
        expect(['completed', 'error', 'cancelled']).toContain(w.status);
        return w;
      },
      { timeout, interval: 250 },
    );

  beforeAll(async () => {
    running = await startTestPlatform('analytics');
    platform = running.platform;
    const records = market.klines.flat().map((k) => seriesRecord('kline', k));
    await platform.store.upsertRecords(canonicalCollection('kline'), records);
  }, 60_000);

  afterAll(async () => {
    await running?.close();
  });

  let graphId = '';

  it('builds a graph: snapshots with the true lead-lag edges, listed and read back over HTTP', async () => {
    const res = await post({
      type: 'graph_build',
      symbols: market.symbols,
      time_range: `${FROM}:${TO}`,
      graph: { interval: '1h', window: '20d', step: '5d', methods: ['lead_lag', 'pearson'] },
    });
    expect(res.status).toBe(201);
    const created = (await res.json()) as { queue_id: string; target: string };
    expect(created.target).toBe('graph-builder');
    const wf = await ended(created.queue_id);
    expect(wf.error).toBeUndefined();
    expect(wf.status).toBe('completed');
    graphId = created.queue_id;
    // One per 5 days from the first full 20-day window (its first return is bar 1): 20.
    expect(wf.records_written).toBe(20);

    const list = (await (await fetch(`${platform.url}/graphs`)).json()) as {
      items: GraphInfo[];
      total: number;
    };
    expect(list.items.map((g) => g.graph_id)).toContain(graphId);
    const detail = (await (await fetch(`${platform.url}/graphs/${graphId}?limit=5`)).json()) as GraphInfo & {
      snapshot_page: {
        items: {
          t: number;
          vertices: { symbol: string }[];
          edges: { source: string; target: string; method: string; lag: number; sign: number }[];
        }[];
        next_from: number | null;
      };
    };
    expect(detail.snapshots).toBe(20);
    expect(detail.snapshot_page.items).toHaveLength(5);
    expect(detail.snapshot_page.next_from).toBe(detail.snapshot_page.items[4]!.t + 5 * 86_400_000);
    // Every true edge (leader → follower, lag 1, its sign) is in every snapshot of the page.
    for (const snap of detail.snapshot_page.items) {
      expect(snap.vertices.map((v) => v.symbol)).toEqual(market.symbols);
      for (const e of market.edges)
        expect(snap.edges).toContainEqual(
          expect.objectContaining({
            source: e.source,
            target: e.target,
            method: 'lead_lag',
            lag: 1,
            sign: Math.sign(e.coef),
          }),
        );
    }
    expect((await fetch(`${platform.url}/graphs/nope`)).status).toBe(404);
  }, 120_000);

  it('trains a GNN on it as a Job, registers the model with its baselines, and predicts over HTTP', async () => {
    expect(graphId).not.toBe('');
    const res = await post({
      type: 'gnn_train',
      gnn: { graph_id: graphId, architecture: 'gcn', hidden: 8, epochs: 15, patience: 4, seed: 3 },
    });
    expect(res.status).toBe(201);
    const created = (await res.json()) as { queue_id: string; target: string; symbol: string };
    expect(created.target).toBe('gnn-trainer');
    const wf = await ended(created.queue_id, 240_000);
    expect(wf.error).toBeUndefined();
    expect(wf.status).toBe('completed');
    expect(wf.progress?.training?.backend).toMatch(/^(wasm|tensorflow|cpu)$/);
    expect(wf.progress?.training?.epoch).toBeGreaterThan(0);

    const models = (await (await fetch(`${platform.url}/models?graph_id=${graphId}`)).json()) as {
      items: ModelInfo[];
    };
    expect(models.items.map((m) => m.model_id)).toEqual([created.queue_id]);
    const model = (await (await fetch(`${platform.url}/models/${created.queue_id}`)).json()) as ModelInfo;
    expect(model.graph_id).toBe(graphId);
    expect(Object.keys(model.baselines).sort()).toEqual(['logistic', 'mlp', 'momentum', 'persistence']);
    expect(model.comparisons.map((c) => c.baseline).sort()).toEqual([
      'logistic',
      'mlp',
      'momentum',
      'persistence',
    ]);
    expect(model.ranges.train[1]).toBeLessThan(model.ranges.validation[0]);
    expect(model.ranges.validation[1]).toBeLessThan(model.ranges.test[0]);
    // The graph helps on this market: followers are predictable from their leaders.
    expect(model.metrics.accuracy).toBeGreaterThan(model.baselines['mlp']!.accuracy);

    const p = await fetch(`${platform.url}/models/${created.queue_id}/predict`, { method: 'POST' });
    expect(p.status).toBe(200);
    const prediction = (await p.json()) as {
      time: number;
      snapshot_t: number;
      predictions: { symbol: string; p_up: number }[];
    };
    expect(prediction.predictions.map((x) => x.symbol)).toEqual(market.symbols);
    expect(prediction.time).toBe(Date.UTC(2023, 4, 1)); // close of the last stored bar
    expect(prediction.snapshot_t).toBeLessThanOrEqual(prediction.time);
    for (const x of prediction.predictions) {
      expect(x.p_up).toBeGreaterThan(0);
      expect(x.p_up).toBeLessThan(1);
    }

    expect((await fetch(`${platform.url}/models/nope/predict`, { method: 'POST' })).status).toBe(404);
    // A model whose inputs are not stored: 409 naming what is missing.
    await createRegistry(platform.store).putModel({
      ...model,
      model_id: 'orphan',
      symbols: ['NOPEUSDT', ...model.symbols],
    });
    const orphan = await fetch(`${platform.url}/models/orphan/predict`, { method: 'POST' });
    expect(orphan.status).toBe(409);
    expect(((await orphan.json()) as { error: string }).error).toContain('NOPEUSDT has no klines_1h');
  }, 300_000);

  it('a graph over symbols without stored klines ends in error saying which', async () => {
    const res = await post({
      type: 'graph_build',
      symbols: ['S00USDT', 'NOPEUSDT'],
      time_range: `${FROM}:${TO}`,
    });
    expect(res.status).toBe(201);
    const wf = await ended(((await res.json()) as { queue_id: string }).queue_id);
    expect(wf.status).toBe('error');
    expect(wf.error?.message).toContain('NOPEUSDT');
  });
});
