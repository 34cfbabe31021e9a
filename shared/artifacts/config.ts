/**
 * The artifact store's configuration (docs/artifacts.md): a zod shape that the functions that
 * write or read artifacts (gnn-trainer, queue-manager, the platform) add to their own schema, and
 * the factory that turns the parsed values into a store. Only main.ts files read the environment.
 *
 * - `ARTIFACT_STORE`: where new artifacts go, `s3://bucket/prefix` or `file:///dir`; unset:
 *   the directory `ARTIFACT_DIR`.
 * - `ARTIFACT_S3_*`: the S3-compatible server (endpoint, region, credentials, path style).
 */
import { z } from 'zod';
import { ConfigError, env } from '../runtime/config.ts';
import { createDirectoryStore } from './directory.ts';
import { createS3Store, type S3Store } from './s3.ts';
import { parseArtifactUri, routeArtifacts, type ArtifactStore } from './store.ts';

export const ArtifactConfigShape = {
  /** `s3://bucket/prefix` or `file:///dir`; unset: `ARTIFACT_DIR`. */
  ARTIFACT_STORE: z
    .string()
    .regex(/^(s3|file):\/\//, 'must be s3://bucket/prefix or file:///directory')
    .optional(),
  /** Model artifacts in the directory mode, one directory per model. */
  ARTIFACT_DIR: z.string().min(1).default('data/models'),
  /** An S3-compatible server (SeaweedFS, Ceph RGW, MinIO…); unset: AWS S3 in ARTIFACT_S3_REGION. */
  ARTIFACT_S3_ENDPOINT: z.url().optional(),
  ARTIFACT_S3_REGION: z.string().min(1).default('us-east-1'),
  /** Static credentials (from a Secret); both unset: the SDK's default chain (workload identity). */
  ARTIFACT_S3_ACCESS_KEY_ID: z.string().min(1).optional(),
  ARTIFACT_S3_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  /** Path-style addressing (`host/bucket/key`), what S3-compatible servers expect. */
  ARTIFACT_S3_FORCE_PATH_STYLE: env.bool(true),
  /** Bound of one S3 request in ms (an unreachable server fails after about two of these). */
  ARTIFACT_S3_TIMEOUT_MS: env.int(10_000).pipe(z.number().int().positive()),
};
const ArtifactConfigObject = z.object(ArtifactConfigShape);
export type ArtifactConfig = z.infer<typeof ArtifactConfigObject>;

/** Every problem of the artifact settings at once (both keys or neither); [] when they are fine. */
export function artifactConfigProblems(cfg: ArtifactConfig): string[] {
  const out: string[] = [];
  if ((cfg.ARTIFACT_S3_ACCESS_KEY_ID === undefined) !== (cfg.ARTIFACT_S3_SECRET_ACCESS_KEY === undefined))
    out.push('ARTIFACT_S3_ACCESS_KEY_ID and ARTIFACT_S3_SECRET_ACCESS_KEY: set both or neither');
  if (cfg.ARTIFACT_STORE !== undefined)
    try {
      parseArtifactUri(cfg.ARTIFACT_STORE);
    } catch (err) {
      out.push(`ARTIFACT_STORE: ${err instanceof Error ? err.message : String(err)}`);
    }
  return out;
}

export type ArtifactStoreHandle = ArtifactStore & { close(): void };

/**
 * The store the configuration names, able to read both kinds of URI: new artifacts go to
 * ARTIFACT_STORE (or ARTIFACT_DIR); `file://` URIs and plain paths are always readable; `s3://`
 * URIs are readable wherever an S3 endpoint, region or bucket is configured.
 */
export function createArtifactStore(cfg: Partial<ArtifactConfig>): ArtifactStoreHandle {
  const problems = artifactConfigProblems({ ...ArtifactConfigObject.parse({}), ...cfg });
  if (problems.length > 0) throw new ConfigError(problems);
  const target = cfg.ARTIFACT_STORE === undefined ? undefined : parseArtifactUri(cfg.ARTIFACT_STORE);
  const dir = createDirectoryStore(
    target?.scheme === 'file' ? target.dir : (cfg.ARTIFACT_DIR ?? 'data/models'),
  );
  let s3: S3Store | undefined;
  if (target?.scheme === 's3' || cfg.ARTIFACT_S3_ENDPOINT !== undefined)
    s3 = createS3Store({
      bucket: target?.scheme === 's3' ? target.bucket : 'artifacts',
      prefix: target?.scheme === 's3' ? target.prefix : '',
      endpoint: cfg.ARTIFACT_S3_ENDPOINT,
      region: cfg.ARTIFACT_S3_REGION ?? 'us-east-1',
      credentials:
        cfg.ARTIFACT_S3_ACCESS_KEY_ID !== undefined && cfg.ARTIFACT_S3_SECRET_ACCESS_KEY !== undefined
          ? {
              accessKeyId: cfg.ARTIFACT_S3_ACCESS_KEY_ID,
              secretAccessKey: cfg.ARTIFACT_S3_SECRET_ACCESS_KEY,
            }
          : undefined,
      forcePathStyle: cfg.ARTIFACT_S3_FORCE_PATH_STYLE ?? true,
      timeoutMs: cfg.ARTIFACT_S3_TIMEOUT_MS,
    });
  const routed = routeArtifacts(target?.scheme === 's3' && s3 ? s3 : dir, { file: dir, s3 });
  return { ...routed, close: () => s3?.close() };
}

/**
 * The artifact settings a Job needs to write where this process reads (the manager hands them
 * to gnn-trainer). Secrets only with `secrets: true` (child processes of the local modes); in a
 * cluster the Job gets its keys from a Secret (docs/artifacts.md), never in its spec.
 */
export function artifactJobEnv(
  cfg: Partial<ArtifactConfig>,
  o: { secrets: boolean },
): Record<string, string> {
  const out: Record<string, string> = {};
  const put = (k: keyof ArtifactConfig, v: string | number | boolean | undefined) => {
    if (v !== undefined) out[k] = String(v);
  };
  put('ARTIFACT_STORE', cfg.ARTIFACT_STORE);
  put('ARTIFACT_S3_ENDPOINT', cfg.ARTIFACT_S3_ENDPOINT);
  if (cfg.ARTIFACT_STORE !== undefined || cfg.ARTIFACT_S3_ENDPOINT !== undefined) {
    put('ARTIFACT_S3_REGION', cfg.ARTIFACT_S3_REGION);
    put('ARTIFACT_S3_FORCE_PATH_STYLE', cfg.ARTIFACT_S3_FORCE_PATH_STYLE);
    put('ARTIFACT_S3_TIMEOUT_MS', cfg.ARTIFACT_S3_TIMEOUT_MS);
  }
  if (o.secrets) {
    put('ARTIFACT_S3_ACCESS_KEY_ID', cfg.ARTIFACT_S3_ACCESS_KEY_ID);
    put('ARTIFACT_S3_SECRET_ACCESS_KEY', cfg.ARTIFACT_S3_SECRET_ACCESS_KEY);
  }
  return out;
}
