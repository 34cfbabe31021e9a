/**
 * Fixtures for the job tests: a start command, the repository's Job template, and
 * the Kubernetes 1.35 batch/v1 Job schema (test/fixtures/schemas, SOURCES.md) as an Ajv validator,
 * closed in memory (additionalProperties: false where the schema lists properties) so a typo in
 * a field name fails, as it would under the API server's strict field validation.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import formatsModule from 'ajv-formats';
import type { QueueCommand } from '../../shared/contracts/workflow.ts';
import { parseJobTemplate, type JobManifest } from '../../shared/jobs/render-job.ts';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const schemaFile = path.resolve(
  repoRoot,
  'test/fixtures/schemas/kubernetes-1.35/apis__batch__v1_openapi.json',
);

type AddFormats = (ajv: Ajv) => Ajv;
// ajv-formats is CommonJS: its default export arrives as the function or wrapped in `default`.
const addFormats: AddFormats =
  (formatsModule as unknown as { default?: AddFormats }).default ?? (formatsModule as unknown as AddFormats);

function close(node: unknown): void {
  if (Array.isArray(node)) {
    for (const n of node) close(n);
    return;
  }
  if (typeof node !== 'object' || node === null) return;
  const o = node as Record<string, unknown>;
  if (
    typeof o['properties'] === 'object' &&
    o['additionalProperties'] === undefined &&
    o['x-kubernetes-preserve-unknown-fields'] !== true
  ) {
    o['additionalProperties'] = false;
  }
  for (const v of Object.values(o)) close(v);
}

export function jobValidator(): ValidateFunction {
  const doc = JSON.parse(readFileSync(schemaFile, 'utf8')) as { components: unknown };
  close(doc.components);
  const ajv = new Ajv({ strict: false, strictTypes: false, allErrors: true });
  addFormats(ajv);
  ajv.addFormat('int-or-string', true);
  ajv.addSchema({ $id: 'k8s-batch-v1', components: doc.components });
  const v = ajv.getSchema('k8s-batch-v1#/components/schemas/io.k8s.api.batch.v1.Job');
  if (!v) throw new Error('Job schema not found');
  return v;
}

export const IMAGE = 'ghcr.io/streamforge/streamforge:0.1.0';

export function command(over: Partial<QueueCommand> = {}): QueueCommand {
  return {
    command: 'start',
    queue_id: 'wf-btcusdt-api_candles_5m-20240801-a1b2c3',
    target: 'loader-api',
    symbol: 'BTCUSDT',
    type: 'api_candles_5m',
    market: 'spot',
    time_range: '2024-08-01:2024-08-02',
    start: Date.parse('2024-08-01T00:00:00Z'),
    end: Date.parse('2024-08-02T00:00:00Z'),
    kafka_topic: 'binance-kline',
    collection_name: 'market_klines',
    telemetry_id: '5b7c1f4e-0000-4000-8000-000000000000',
    image: IMAGE,
    attempt: 1,
    timestamp: '2024-08-02T10:00:00.000Z',
    ...over,
  };
}

export const template = (): JobManifest =>
  parseJobTemplate(readFileSync(path.join(repoRoot, 'knative/jobs/loader-job.yaml'), 'utf8'));
