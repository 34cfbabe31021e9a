/**
 * The artifact-store port's contract (shared/artifacts), run against both adapters: the
 * directory and an S3-compatible bucket on a real server (moto's server mode, started here;
 * test/artifacts/moto.ts). A tiny tfjs LayersModel is trained, saved through the port and loaded
 * back to the same weights and predictions; listing, deletion, a missing key and a store that
 * is down behave the same way on both.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as TF from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, saveModel } from '../../shared/analytics/gnn/artifact.ts';
import { selectBackend, type Tf } from '../../shared/analytics/gnn/backend.ts';
import { createArtifactStore } from '../../shared/artifacts/config.ts';
import { createDirectoryStore } from '../../shared/artifacts/directory.ts';
import { createS3Store } from '../../shared/artifacts/s3.ts';
import {
  ArtifactNotFoundError,
  ArtifactUnavailableError,
  parseArtifactUri,
  type ArtifactStore,
} from '../../shared/artifacts/store.ts';
import { ConfigError } from '../../shared/runtime/config.ts';
import { InvalidInputError } from '../../shared/runtime/errors.ts';
import { CREDENTIALS, freePort, motoMissing, REGION, startMoto, type Moto } from './moto.ts';

const missing = motoMissing();
const BUCKET = 'sf-artifacts';

let tf: Tf;
let dir: string;
let moto: Moto | undefined;
const closers: (() => void)[] = [];

beforeAll(async () => {
  ({ tf } = await selectBackend());
  dir = await mkdtemp(path.join(tmpdir(), 'sf-artifacts-'));
  if (!missing) {
    moto = await startMoto();
    await moto.createBucket(BUCKET);
  }
}, 60_000);
afterAll(async () => {
  closers.forEach((c) => c());
  await moto?.stop();
  await rm(dir, { recursive: true, force: true });
});

const s3Store = (o: { endpoint?: string; bucket?: string; prefix?: string } = {}) => {
  const s = createS3Store({
    bucket: o.bucket ?? BUCKET,
    prefix: o.prefix ?? 'models',
    endpoint: o.endpoint ?? moto!.endpoint,
    region: REGION,
    credentials: CREDENTIALS,
    timeoutMs: 2000,
  });
  closers.push(() => s.close());
  return s;
};

/** A tiny LayersModel, trained a few epochs so its weights are not the initial ones. */
async function tinyModel(): Promise<TF.LayersModel> {
  const m = tf.sequential({
    layers: [
      tf.layers.dense({
        inputShape: [3],
        units: 4,
        activation: 'relu',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
      }),
      tf.layers.dense({
        units: 1,
        activation: 'sigmoid',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }),
      }),
    ],
  });
  m.compile({ optimizer: tf.train.sgd(0.1), loss: 'binaryCrossentropy' });
  const x = tf.tensor2d([
    [0, 1, 2],
    [1, 0, -1],
    [2, 2, 0],
    [-1, 0, 1],
  ]);
  const y = tf.tensor2d([[1], [0], [1], [0]]);
  await m.fit(x, y, { epochs: 3, batchSize: 4, verbose: 0, shuffle: false });
  tf.dispose([x, y]);
  return m;
}

const adapters: {
  name: string;
  make: () => ArtifactStore;
  down: () => Promise<ArtifactStore>;
  skip: string | null;
}[] = [
  {
    name: 'directory',
    make: () => createDirectoryStore(path.join(dir, 'store')),
    // A directory that cannot be: its parent is a file.
    down: async () => {
      const file = path.join(dir, 'not-a-dir');
      await writeFile(file, 'x');
      return createDirectoryStore(path.join(file, 'models'));
    },
    skip: null,
  },
  {
    name: 's3 (moto server)',
    make: () => s3Store(),
    // Nothing listens on a port just freed.
    down: async () => s3Store({ endpoint: `http://127.0.0.1:${await freePort()}` }),
    skip: missing,
  },
];

describe.each(adapters)('artifact store: $name', ({ make, down, skip }) => {
  if (skip) {
    it.skip(`skipped: ${skip}`, () => {});
    return;
  }
  let store: ArtifactStore;
  beforeAll(() => {
    store = make();
  });

  it('round-trips a trained tfjs model: same weights, same predictions, metadata kept', async () => {
    const model = await tinyModel();
    const uri = store.uriFor('model-1');
    expect(uri.startsWith(store.root)).toBe(true);
    expect(uri.endsWith('/model-1/')).toBe(true);
    const saved = await saveModel(model, store, uri, { feature_mean: [0.5] });
    expect(saved.uri).toBe(uri);
    const listed = await store.list(uri);
    expect(listed.map((e) => e.name)).toEqual(['model.json', 'weights.bin']);
    expect(listed.reduce((a, e) => a + e.bytes, 0)).toBe(saved.bytes);
    expect(listed.find((e) => e.name === 'weights.bin')!.bytes).toBe((4 * 3 + 4 + 4 + 1) * 4);
    const loaded = await loadModel(tf, store, uri);
    try {
      expect(loaded.getUserDefinedMetadata()).toEqual({ feature_mean: [0.5] });
      expect(loaded.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(
        model.getWeights().map((w) => Array.from(w.dataSync())),
      );
      const x = tf.tensor2d([[0.3, -0.2, 1.5]]);
      const want = (model.predict(x) as TF.Tensor).dataSync();
      expect((loaded.predict(x) as TF.Tensor).dataSync()).toEqual(want);
      x.dispose();
    } finally {
      loaded.dispose();
      model.dispose();
    }
  });

  it('lists artifacts by URI: one artifact, all under the root, nested names, nothing for an unknown one', async () => {
    const a = store.uriFor('list-a');
    const b = store.uriFor('list-b');
    await store.put(a, [
      ['x.bin', new Uint8Array([1, 2, 3])],
      ['export/part-0.parquet', new Uint8Array(10)],
    ]);
    await store.put(b, [['y.json', new TextEncoder().encode('{}')]]);
    expect(await store.list(a)).toEqual([
      { name: 'export/part-0.parquet', bytes: 10 },
      { name: 'x.bin', bytes: 3 },
    ]);
    const all = (await store.list(store.root)).map((e) => e.name);
    expect(all).toEqual(
      expect.arrayContaining(['list-a/x.bin', 'list-a/export/part-0.parquet', 'list-b/y.json']),
    );
    expect(await store.list(store.uriFor('never-written'))).toEqual([]);
    // list-a's prefix does not catch list-ab.
    await store.put(store.uriFor('list-ab'), [['z', new Uint8Array(1)]]);
    expect((await store.list(a)).map((e) => e.name)).toEqual(['export/part-0.parquet', 'x.bin']);
    expect(await store.get(a, 'export/part-0.parquet')).toEqual(new Uint8Array(10));
  });

  it('overwrites a file written again', async () => {
    const u = store.uriFor('overwrite');
    await store.put(u, [['f', new Uint8Array([1])]]);
    await store.put(u, [['f', new Uint8Array([2, 2])]]);
    expect(await store.get(u, 'f')).toEqual(new Uint8Array([2, 2]));
  });

  it('deletes an artifact and nothing else', async () => {
    const u = store.uriFor('del-me');
    const keep = store.uriFor('del-me-not');
    await store.put(u, [
      ['a', new Uint8Array(1)],
      ['sub/b', new Uint8Array(2)],
    ]);
    await store.put(keep, [['a', new Uint8Array(1)]]);
    expect(await store.delete(u)).toBe(2);
    expect(await store.list(u)).toEqual([]);
    await expect(store.get(u, 'a')).rejects.toBeInstanceOf(ArtifactNotFoundError);
    expect(await store.list(keep)).toEqual([{ name: 'a', bytes: 1 }]);
    expect(await store.delete(store.uriFor('never-written'))).toBe(0);
  });

  it('a missing key is ArtifactNotFoundError naming it; loading a missing model too', async () => {
    const u = store.uriFor('absent');
    const err = await store.get(u, 'model.json').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArtifactNotFoundError);
    expect((err as Error).message).toBe(`artifact ${u}: model.json is not stored`);
    await expect(loadModel(tf, store, u)).rejects.toBeInstanceOf(ArtifactNotFoundError);
  });

  it('refuses file names that climb out of the artifact', async () => {
    await expect(store.put(store.uriFor('x'), [['../evil', new Uint8Array(1)]])).rejects.toBeInstanceOf(
      InvalidInputError,
    );
    expect(() => store.uriFor('../x')).toThrow(InvalidInputError);
  });

  it('a store that is down is ArtifactUnavailableError with a reason, on every operation', async () => {
    const bad = await down();
    const u = bad.uriFor('m');
    const started = Date.now();
    for (const op of [
      () => bad.put(u, [['model.json', new Uint8Array(1)]]),
      () => bad.get(u, 'model.json'),
      () => bad.list(u),
    ]) {
      const err = await op().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ArtifactUnavailableError);
      expect((err as Error).message).toMatch(/artifact/);
    }
    expect(Date.now() - started).toBeLessThan(20_000);
  }, 30_000);
});

describe.skipIf(missing !== null)('the S3 adapter against moto: what only S3 has', () => {
  it('a bucket that does not exist says so and what to fix', async () => {
    const s = s3Store({ bucket: 'no-such-bucket' });
    const err = await s.list(s.uriFor('m')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArtifactUnavailableError);
    expect((err as Error).message).toContain('bucket "no-such-bucket" does not exist');
  });

  it('an unreachable endpoint names it and the variable to check', async () => {
    const endpoint = `http://127.0.0.1:${await freePort()}`;
    const s = s3Store({ endpoint });
    const err = await s.get(s.uriFor('m'), 'model.json').catch((e: unknown) => e);
    expect((err as Error).message).toMatch(
      new RegExp(`^artifact store unreachable: ${endpoint} .*ARTIFACT_S3_ENDPOINT`),
    );
  });

  it('stores keys under bucket/prefix/id/, and the configured store routes both URI kinds', async () => {
    const store = createArtifactStore({
      ARTIFACT_STORE: `s3://${BUCKET}/routed/`,
      ARTIFACT_DIR: path.join(dir, 'routed-dir'),
      ARTIFACT_S3_ENDPOINT: moto!.endpoint,
      ARTIFACT_S3_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
      ARTIFACT_S3_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    });
    closers.push(() => store.close());
    expect(store.root).toBe(`s3://${BUCKET}/routed/`);
    expect(store.uriFor('m1')).toBe(`s3://${BUCKET}/routed/m1/`);
    await store.put(store.uriFor('m1'), [['f', new Uint8Array([7])]]);
    const raw = s3Store({ prefix: '' });
    expect(await raw.list(`s3://${BUCKET}/routed/`)).toEqual([{ name: 'm1/f', bytes: 1 }]);
    // A file URI and a plain path (registries before URIs) go to the directory adapter.
    const local = createDirectoryStore(path.join(dir, 'old'));
    await local.put(local.uriFor('m0'), [['f', new Uint8Array([9])]]);
    expect(await store.get(path.join(dir, 'old', 'm0'), 'f')).toEqual(new Uint8Array([9]));
    expect(await store.get(local.uriFor('m0'), 'f')).toEqual(new Uint8Array([9]));
  });
});

describe('artifact URIs and configuration', () => {
  it('parses s3://, file:// and plain paths; refuses other schemes', () => {
    expect(parseArtifactUri('s3://bkt/models/m1/')).toEqual({
      scheme: 's3',
      bucket: 'bkt',
      prefix: 'models/m1/',
    });
    expect(parseArtifactUri('s3://bkt')).toEqual({ scheme: 's3', bucket: 'bkt', prefix: '' });
    expect(parseArtifactUri('s3://bkt/models')).toEqual({ scheme: 's3', bucket: 'bkt', prefix: 'models/' });
    expect(parseArtifactUri(pathToFileURL('/data/models/m1').href)).toEqual({
      scheme: 'file',
      dir: '/data/models/m1',
    });
    expect(parseArtifactUri('data/models/m1')).toEqual({
      scheme: 'file',
      dir: path.resolve('data/models/m1'),
    });
    expect(() => parseArtifactUri('http://x/y')).toThrow(/only file:\/\/ and s3:\/\//);
    expect(() => parseArtifactUri('s3://Bad_Bucket/x')).toThrow(/not a valid bucket name/);
  });

  it('an s3:// URI without an S3 store configured is unavailable, saying what to set', async () => {
    const store = createArtifactStore({ ARTIFACT_DIR: path.join(dir, 'only-dir') });
    const err = await store.get('s3://bkt/models/m1/', 'model.json').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArtifactUnavailableError);
    expect((err as Error).message).toContain('no S3 store is configured');
  });

  it('half a key pair is a configuration error', () => {
    expect(() =>
      createArtifactStore({ ARTIFACT_STORE: 's3://bkt/m', ARTIFACT_S3_ACCESS_KEY_ID: 'k' }),
    ).toThrow(ConfigError);
  });
});
