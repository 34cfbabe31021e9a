/**
 * The artifact-store port (issue 16): where trained models (tfjs `model.json` + `weights.bin`)
 * and other large files live. An artifact is a folder of named files addressed by a URI:
 *
 * - `file:///abs/dir/<id>/` — a directory on this machine (the embedded mode, `ARTIFACT_DIR`);
 * - `s3://bucket/prefix/<id>/` — a prefix in an S3-compatible bucket (the cluster).
 *
 * A plain directory path (what registries stored before URIs) is read as the `file://` URI of
 * that directory, so old registry entries still load. Adapters: directory.ts and s3.ts; the
 * router below sends each URI to the adapter of its scheme.
 */
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DependencyError, InvalidInputError, NotFoundError } from '../runtime/errors.ts';

/** One file of an artifact: its name inside the artifact (may contain `/`) and its size. */
export interface ArtifactEntry {
  name: string;
  bytes: number;
}

export interface ArtifactStore {
  /** Where new artifacts go: `file:///…/` or `s3://bucket/prefix/`. */
  readonly root: string;
  /** The URI of the artifact `id` under the root (ends in `/`). */
  uriFor(id: string): string;
  /** Writes the files (in the order given; the last written is the one readers look for first). */
  put(uri: string, files: ReadonlyArray<readonly [string, Uint8Array]>): Promise<{ bytes: number }>;
  /** One file's bytes; ArtifactNotFoundError when it is not there. */
  get(uri: string, name: string): Promise<Uint8Array>;
  /** Every file under the URI, names relative to it, sorted; [] when there is none. */
  list(uri: string): Promise<ArtifactEntry[]>;
  /** Removes every file under the URI; returns how many. */
  delete(uri: string): Promise<number>;
}

/** The artifact or the file asked for is not stored (404 in general; predict turns it into 409). */
export class ArtifactNotFoundError extends NotFoundError {}

/** The store cannot be reached or refuses us (server down, no such bucket, credentials): 503. */
export class ArtifactUnavailableError extends DependencyError {}

export type ParsedUri = { scheme: 'file'; dir: string } | { scheme: 's3'; bucket: string; prefix: string };

/** Parses an artifact URI (or a plain directory path, the registries' old form). */
export function parseArtifactUri(uri: string): ParsedUri {
  if (uri.startsWith('s3://')) {
    const rest = uri.slice('s3://'.length);
    const slash = rest.indexOf('/');
    const bucket = slash < 0 ? rest : rest.slice(0, slash);
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket))
      throw new InvalidInputError(`artifact URI ${uri}: "${bucket}" is not a valid bucket name`);
    const prefix = slash < 0 ? '' : rest.slice(slash + 1).replace(/^\/+/, '');
    return { scheme: 's3', bucket, prefix: prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/` };
  }
  if (uri.startsWith('file:')) return { scheme: 'file', dir: fileURLToPath(uri) };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri))
    throw new InvalidInputError(`artifact URI ${uri}: only file:// and s3:// are supported`);
  if (uri === '') throw new InvalidInputError('empty artifact URI');
  return { scheme: 'file', dir: path.resolve(uri) };
}

/** `file://` URI of a directory, with a trailing slash. */
export function dirUri(dir: string): string {
  const href = pathToFileURL(path.resolve(dir)).href;
  return href.endsWith('/') ? href : `${href}/`;
}

/** A file name inside an artifact: relative, no `..`, no empty segments. */
export function checkName(name: string): string {
  const parts = name.split('/');
  if (name === '' || name.startsWith('/') || parts.some((p) => p === '' || p === '.' || p === '..'))
    throw new InvalidInputError(`artifact file name "${name}" must be a relative path without . or ..`);
  return name;
}

/** An artifact id (a model id): one path segment. */
export function checkId(id: string): string {
  if (!/^[\w.-]+$/.test(id) || id === '.' || id === '..')
    throw new InvalidInputError(`artifact id "${id}" must be letters, digits, _ . -`);
  return id;
}

/**
 * Sends every call to the adapter of its URI's scheme; `root` (where new artifacts go) is the
 * `primary` adapter's. A scheme without an adapter is ArtifactUnavailableError saying what to set.
 */
export function routeArtifacts(
  primary: ArtifactStore,
  adapters: { file?: ArtifactStore | undefined; s3?: ArtifactStore | undefined },
): ArtifactStore {
  const pick = (uri: string): ArtifactStore => {
    const { scheme } = parseArtifactUri(uri);
    const adapter = adapters[scheme];
    if (adapter) return adapter;
    throw new ArtifactUnavailableError(
      scheme === 's3'
        ? `artifact ${uri} is in S3 but no S3 store is configured here (set ARTIFACT_STORE=s3://… and ARTIFACT_S3_ENDPOINT)`
        : `artifact ${uri} is a local directory but this process has no directory store`,
    );
  };
  return {
    root: primary.root,
    uriFor: (id) => primary.uriFor(id),
    put: async (uri, files) => pick(uri).put(uri, files),
    get: async (uri, name) => pick(uri).get(uri, name),
    list: async (uri) => pick(uri).list(uri),
    delete: async (uri) => pick(uri).delete(uri),
  };
}
