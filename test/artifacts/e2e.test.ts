/**
 * Artifacts in object storage end to end (issue 16): the embedded platform configured with
 * ARTIFACT_STORE=s3://… on a real S3-compatible server (moto's server mode, test/artifacts/moto.ts).
 * A GNN trained as a Job (a child process that reads its S3 settings from the environment the
 * platform hands it) lands in the bucket, the registry holds its s3:// URI, and the manager
 * predicts from it. A model whose artifact is missing answers 409 saying so; with the server
 * stopped, predict answers 409 "unreachable" and a new training ends in `error` naming the store.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ModelInfo } from '../../shared/contracts/analytics.ts';
import { canonicalCollection } from '../../shared/contracts/events.ts';
import { seriesRecord } from '../../shared/store/store.ts';
import { createRegistry } from '../../shared/analytics/registry.ts';
import { createS3Store } from '../../shared/artifacts/s3.ts';
import type { Platform } from '../../functions/platform/platform.ts';
import { syntheticMarket } from '../../functions/dummy-service/synthetic-market.ts';
import { startTestPlatform, type TestPlatform } from '../platform/start.ts';
import { CREDENTIALS, motoMissing, REGION, startMoto, type Moto } from './moto.ts';

const missing = motoMissing();
const BUCKET = 'sf-models';
const market = syntheticMarket({ symbols: 4, bars: 24 * 60, seed: 5, start: Date.UTC(2023, 0, 1) });

interface Workflow {
  status: string;
  error?: { code: string | number; message: string };
}

describe.skipIf(missing !== null)(
  'a model trained into S3 is predicted from S3 (embedded platform, moto)',
  () => {
    let running: TestPlatform | undefined;
    let moto: Moto;
    let platform: Platform;

    const post = async (body: unknown) =>
      fetch(`${platform.url}/workflows`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const run = async (body: unknown, timeout = 180_000): Promise<Workflow & { queue_id: string }> => {
      const res = await post(body);
      expect(res.status).toBe(201);
      const { queue_id } = (await res.json()) as { queue_id: string };
      const wf = await vi.waitFor(
        async () => {
          const w = (await (await fetch(`${platform.url}/workflows/${queue_id}`)).json()) as Workflow;
          expect(['completed', 'error', 'cancelled']).toContain(w.status);
          return w;
        },
        { timeout, interval: 250 },
      );
      return { ...wf, queue_id };
    };
    const predict = (id: string) => fetch(`${platform.url}/models/${id}/predict`, { method: 'POST' });

    beforeAll(async () => {
      moto = await startMoto();
      await moto.createBucket(BUCKET);
      running = await startTestPlatform('artifacts-e2e', {
        env: {
          DEMO: 'false',
          ARTIFACT_STORE: `s3://${BUCKET}/models`,
          ARTIFACT_S3_ENDPOINT: moto.endpoint,
          ARTIFACT_S3_REGION: REGION,
          ARTIFACT_S3_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
          ARTIFACT_S3_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
          ARTIFACT_S3_TIMEOUT_MS: '2000',
        },
      });
      platform = running.platform;
      const records = market.klines.flat().map((k) => seriesRecord('kline', k));
      await platform.store.upsertRecords(canonicalCollection('kline'), records);
    }, 90_000);

    afterAll(async () => {
      await running?.close();
      await moto?.stop();
    });

    it('trains into the bucket, registers an s3:// URI, predicts from it; a missing artifact is 409', async () => {
      const graph = await run({
        type: 'graph_build',
        symbols: market.symbols,
        time_range: '2023-01-01:2023-03-02',
        graph: { interval: '1h', window: '10d', step: '5d', methods: ['lead_lag'] },
      });
      expect(graph.error).toBeUndefined();
      const trained = await run({
        type: 'gnn_train',
        gnn: { graph_id: graph.queue_id, architecture: 'gcn', hidden: 4, epochs: 3, patience: 2, seed: 1 },
      });
      expect(trained.error).toBeUndefined();
      expect(trained.status).toBe('completed');

      const model = (await (await fetch(`${platform.url}/models/${trained.queue_id}`)).json()) as ModelInfo;
      expect(model.artifact).toBe(`s3://${BUCKET}/models/${trained.queue_id}/`);
      // What is in the bucket, read with a client of its own.
      const s3 = createS3Store({
        bucket: BUCKET,
        prefix: '',
        endpoint: moto.endpoint,
        region: REGION,
        credentials: CREDENTIALS,
      });
      try {
        expect((await s3.list(model.artifact)).map((e) => e.name)).toEqual(['model.json', 'weights.bin']);
      } finally {
        s3.close();
      }

      const p = await predict(model.model_id);
      expect(p.status).toBe(200);
      const prediction = (await p.json()) as { predictions: { symbol: string; p_up: number }[] };
      expect(prediction.predictions.map((x) => x.symbol)).toEqual(market.symbols);
      for (const x of prediction.predictions) expect(x.p_up).toBeGreaterThan(0);

      const registry = createRegistry(platform.store);
      await registry.putModel({ ...model, model_id: 'gone', artifact: `s3://${BUCKET}/models/gone/` });
      const gone = await predict('gone');
      expect(gone.status).toBe(409);
      expect(((await gone.json()) as { error: string }).error).toBe(
        `model gone: its artifact at s3://${BUCKET}/models/gone/ cannot be read: artifact s3://${BUCKET}/models/gone/: model.json is not stored`,
      );
      await registry.putModel({ ...model, model_id: 'nobucket', artifact: 's3://no-such-bucket/models/x/' });
      const nobucket = await predict('nobucket');
      expect(nobucket.status).toBe(409);
      expect(((await nobucket.json()) as { error: string }).error).toContain(
        'bucket "no-such-bucket" does not exist',
      );

      // The server goes away: predict says the store is unreachable, training ends in error saying so.
      await moto.stop();
      const down = await predict(model.model_id);
      expect(down.status).toBe(409);
      expect(((await down.json()) as { error: string }).error).toContain(
        `artifact store unreachable: ${moto.endpoint}`,
      );
      const failed = await run({
        type: 'gnn_train',
        gnn: { graph_id: graph.queue_id, architecture: 'gcn', hidden: 4, epochs: 3, seed: 1 },
      });
      expect(failed.status).toBe('error');
      expect(failed.error?.code).toBe('artifact_store');
      expect(failed.error?.message).toMatch(
        new RegExp(
          `^artifact store unreachable: ${moto.endpoint} .*check that the server runs and ARTIFACT_S3_ENDPOINT$`,
        ),
      );
    }, 300_000);
  },
);
