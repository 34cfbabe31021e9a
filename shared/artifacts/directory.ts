/**
 * The directory adapter of the artifact store (embedded and local modes): an artifact is a
 * directory `<root>/<id>/`, its URI `file:///…/<id>/`. Any `file://` URI (or plain directory
 * path, the registries' old form) can be read, not only those under the root.
 */
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  ArtifactNotFoundError,
  ArtifactUnavailableError,
  checkId,
  checkName,
  dirUri,
  parseArtifactUri,
  type ArtifactEntry,
  type ArtifactStore,
} from './store.ts';

function dirOf(uri: string): string {
  const p = parseArtifactUri(uri);
  if (p.scheme !== 'file') throw new ArtifactUnavailableError(`the directory store cannot read ${uri}`);
  return p.dir;
}

const code = (err: unknown) => (err as NodeJS.ErrnoException | undefined)?.code;

function failure(uri: string, what: string, err: unknown): Error {
  if (code(err) === 'ENOENT') return new ArtifactNotFoundError(`artifact ${uri}: ${what} is not stored`);
  return new ArtifactUnavailableError(
    `artifact ${uri}: ${what}: ${err instanceof Error ? err.message : String(err)}`,
    err,
  );
}

export function createDirectoryStore(rootDir: string): ArtifactStore {
  const root = dirUri(rootDir);
  const store: ArtifactStore = {
    root,
    uriFor: (id) => `${root}${checkId(id)}/`,
    async put(uri, files) {
      const dir = dirOf(uri);
      let bytes = 0;
      files.forEach(([name]) => checkName(name));
      try {
        for (const [name, data] of files) {
          const file = path.join(dir, name);
          await mkdir(path.dirname(file), { recursive: true });
          // Write then rename: a reader never sees half a file.
          const tmp = `${file}.${process.pid}.tmp`;
          await writeFile(tmp, data);
          await rename(tmp, file);
          bytes += data.byteLength;
        }
      } catch (err) {
        throw failure(uri, 'writing', err);
      }
      return { bytes };
    },
    async get(uri, name) {
      const file = path.join(dirOf(uri), checkName(name));
      try {
        return new Uint8Array(await readFile(file));
      } catch (err) {
        throw failure(uri, name, err);
      }
    },
    async list(uri) {
      const dir = dirOf(uri);
      const out: ArtifactEntry[] = [];
      const walk = async (rel: string): Promise<void> => {
        let names: string[];
        try {
          names = await readdir(path.join(dir, rel));
        } catch (err) {
          if (code(err) === 'ENOENT') return;
          throw failure(uri, 'listing', err);
        }
        for (const n of names) {
          const r = rel === '' ? n : `${rel}/${n}`;
          const s = await stat(path.join(dir, r));
          if (s.isDirectory()) await walk(r);
          else if (s.isFile() && !n.endsWith('.tmp')) out.push({ name: r, bytes: s.size });
        }
      };
      await walk('');
      return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    },
    async delete(uri) {
      const entries = await store.list(uri);
      await rm(dirOf(uri), { recursive: true, force: true });
      return entries.length;
    },
  };
  return store;
}
