/**
 * The S3 adapter of the artifact store (the cluster): an artifact is the prefix
 * `s3://bucket/prefix/<id>/` of an S3-compatible bucket, written and read with the AWS SDK v3
 * (@aws-sdk/client-s3). Path-style addressing by default (`http://host:port/bucket/key`), which
 * S3-compatible servers (SeaweedFS, moto, Ceph RGW, MinIO) expect; checksums only where the
 * protocol requires them, which those servers accept. Every failure becomes
 * ArtifactNotFoundError (the key is not there) or ArtifactUnavailableError (a message that says
 * what to check: the endpoint, the bucket, the credentials).
 */
import type * as Sdk from '@aws-sdk/client-s3';
import {
  ArtifactNotFoundError,
  ArtifactUnavailableError,
  checkId,
  checkName,
  parseArtifactUri,
  type ArtifactEntry,
  type ArtifactStore,
} from './store.ts';

export interface S3StoreOptions {
  bucket: string;
  /** Key prefix of every artifact (`models/` → `s3://bucket/models/<id>/`); '' for the bucket's root. */
  prefix: string;
  /** An S3-compatible server's URL; unset: AWS S3 of `region`. */
  endpoint?: string | undefined;
  region: string;
  /** Static credentials; unset: the SDK's default chain (for example a workload identity). */
  credentials?:
    { accessKeyId: string; secretAccessKey: string; sessionToken?: string | undefined } | undefined;
  /** `http(s)://host/bucket/key` rather than `bucket.host`; default true. */
  forcePathStyle?: boolean | undefined;
  /** Bound of one request (connect + answer); default 10 s. */
  timeoutMs?: number | undefined;
  /** Attempts per call, the first included; default 2. */
  maxAttempts?: number | undefined;
}

export type S3Store = ArtifactStore & {
  /** Closes the client's sockets. */
  close(): void;
};

const trimSlashes = (s: string) => s.replace(/^\/+|\/+$/g, '');

export function createS3Store(o: S3StoreOptions): S3Store {
  const prefix = trimSlashes(o.prefix) === '' ? '' : `${trimSlashes(o.prefix)}/`;
  const root = `s3://${o.bucket}/${prefix}`;
  const where = o.endpoint ?? `AWS S3 (${o.region})`;
  // The SDK loads on first use (~0.3 s), so a process that never touches S3 never pays for it.
  let connecting: Promise<{ sdk: typeof Sdk; client: Sdk.S3Client }> | undefined;
  const connect = () =>
    (connecting ??= import('@aws-sdk/client-s3').then((sdk) => ({
      sdk,
      client: new sdk.S3Client({
        region: o.region,
        ...(o.endpoint === undefined ? {} : { endpoint: o.endpoint }),
        ...(o.credentials === undefined ? {} : { credentials: o.credentials }),
        forcePathStyle: o.forcePathStyle ?? true,
        maxAttempts: o.maxAttempts ?? 2,
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
        requestHandler: {
          connectionTimeout: Math.min(3000, o.timeoutMs ?? 10_000),
          requestTimeout: o.timeoutMs ?? 10_000,
        },
      }),
    })));

  const locate = (uri: string) => {
    const p = parseArtifactUri(uri);
    if (p.scheme !== 's3') throw new ArtifactUnavailableError(`the S3 store cannot read ${uri}`);
    return p;
  };

  /** Translates an SDK error into the port's two errors, with what a person should check. */
  const failure = (uri: string, what: string, bucket: string, err: unknown): Error => {
    const e = err as {
      name?: string;
      code?: string;
      message?: string;
      $metadata?: { httpStatusCode?: number };
    };
    const status = e.$metadata?.httpStatusCode;
    const name = e.name ?? e.code ?? 'Error';
    if (name === 'NoSuchKey' || (status === 404 && name !== 'NoSuchBucket'))
      return new ArtifactNotFoundError(`artifact ${uri}: ${what} is not stored`);
    if (name === 'NoSuchBucket')
      return new ArtifactUnavailableError(
        `artifact store: bucket "${bucket}" does not exist at ${where} (create it, or fix ARTIFACT_STORE)`,
        err,
      );
    if (status === 403 || /AccessDenied|InvalidAccessKeyId|SignatureDoesNotMatch/.test(name))
      return new ArtifactUnavailableError(
        `artifact store: ${where} refused access to bucket "${bucket}" (${name}); check ARTIFACT_S3_ACCESS_KEY_ID and ARTIFACT_S3_SECRET_ACCESS_KEY`,
        err,
      );
    if (status === undefined)
      return new ArtifactUnavailableError(
        `artifact store unreachable: ${where} (${e.code ?? name}: ${e.message ?? 'no answer'}); check that the server runs and ARTIFACT_S3_ENDPOINT`,
        err,
      );
    return new ArtifactUnavailableError(
      `artifact store: ${where} answered ${status} ${name} for ${what} of ${uri}: ${e.message ?? ''}`,
      err,
    );
  };

  const list = async (uri: string): Promise<ArtifactEntry[]> => {
    const { bucket, prefix: keyPrefix } = locate(uri);
    const { sdk, client } = await connect();
    const out: ArtifactEntry[] = [];
    let token: string | undefined;
    do {
      let page;
      try {
        page = await client.send(
          new sdk.ListObjectsV2Command({ Bucket: bucket, Prefix: keyPrefix, ContinuationToken: token }),
        );
      } catch (err) {
        throw failure(uri, 'listing', bucket, err);
      }
      for (const obj of page.Contents ?? [])
        if (obj.Key !== undefined && obj.Key.length > keyPrefix.length)
          out.push({ name: obj.Key.slice(keyPrefix.length), bytes: obj.Size ?? 0 });
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  };

  return {
    root,
    uriFor: (id) => `${root}${checkId(id)}/`,
    async put(uri, files) {
      const { bucket, prefix: keyPrefix } = locate(uri);
      let bytes = 0;
      files.forEach(([name]) => checkName(name));
      const { sdk, client } = await connect();
      for (const [name, data] of files) {
        try {
          await client.send(
            new sdk.PutObjectCommand({
              Bucket: bucket,
              Key: keyPrefix + name,
              Body: data,
              ContentLength: data.byteLength,
              ContentType: name.endsWith('.json') ? 'application/json' : 'application/octet-stream',
            }),
          );
        } catch (err) {
          throw failure(uri, `writing ${name}`, bucket, err);
        }
        bytes += data.byteLength;
      }
      return { bytes };
    },
    async get(uri, name) {
      const { bucket, prefix: keyPrefix } = locate(uri);
      const key = keyPrefix + checkName(name);
      const { sdk, client } = await connect();
      try {
        const res = await client.send(new sdk.GetObjectCommand({ Bucket: bucket, Key: key }));
        if (!res.Body) throw new ArtifactNotFoundError(`artifact ${uri}: ${name} has no body`);
        return await res.Body.transformToByteArray();
      } catch (err) {
        if (err instanceof ArtifactNotFoundError) throw err;
        throw failure(uri, name, bucket, err);
      }
    },
    list,
    async delete(uri) {
      const { bucket, prefix: keyPrefix } = locate(uri);
      const entries = await list(uri);
      const { sdk, client } = await connect();
      for (const e of entries) {
        try {
          await client.send(new sdk.DeleteObjectCommand({ Bucket: bucket, Key: keyPrefix + e.name }));
        } catch (err) {
          throw failure(uri, `deleting ${e.name}`, bucket, err);
        }
      }
      return entries.length;
    },
    close: () => void connecting?.then(({ client }) => client.destroy()),
  };
}
