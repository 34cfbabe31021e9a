/**
 * Which tfjs backend trains the GNN (issue 15): native TensorFlow through `@tensorflow/tfjs-node`
 * when that optional dependency is installed, else WebAssembly (`@tensorflow/tfjs-backend-wasm`,
 * SIMD on, threads off under Node 20), else the plain-JS `cpu` backend.
 *
 * Two workarounds live here so every caller gets them:
 * - the wasm emscripten module adds `uncaughtException`/`unhandledRejection` listeners that
 *   rethrow and print the whole minified module on any later error; they are removed once the
 *   backend is ready, so a failing test or job still reads like a normal stack trace;
 * - the wasm files are found by path (`setWasmPaths(<package>/dist/)`), not through a bundler.
 *
 * tfjs keeps one global engine, so the selection is idempotent: asking again for the backend that
 * is active returns the same object.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tfjs from '@tensorflow/tfjs';

/** The tfjs namespace (`@tensorflow/tfjs`; tfjs-node re-exports the same API). */
export type Tf = typeof tfjs;
export type BackendPreference = 'auto' | 'tensorflow' | 'wasm' | 'cpu';

export interface SelectedBackend {
  tf: Tf;
  /** The tfjs backend name: `tensorflow` (tfjs-node), `wasm` or `cpu`. */
  backend: string;
  /** Why this backend: what was tried before it and why that failed. */
  note: string;
}

const selected = new Map<BackendPreference, Promise<SelectedBackend>>();

/** Select (once per preference) and activate a backend; see the file header for the order. */
export function selectBackend(prefer: BackendPreference = 'auto'): Promise<SelectedBackend> {
  let found = selected.get(prefer);
  if (found === undefined) {
    found = choose(prefer);
    selected.set(prefer, found);
    // A failed attempt is not remembered: a later call may try again.
    found.catch(() => selected.delete(prefer));
  }
  return found.then(async (s) => {
    // Another preference may have switched the global engine since; switch back.
    if (s.tf.getBackend() !== s.backend) await s.tf.setBackend(s.backend);
    return s;
  });
}

async function choose(prefer: BackendPreference): Promise<SelectedBackend> {
  const notes: string[] = [];
  if (prefer === 'tensorflow' || prefer === 'auto') {
    try {
      const tf = await loadNode();
      return { tf, backend: 'tensorflow', note: 'tfjs-node (native TensorFlow)' };
    } catch (err) {
      const why = `@tensorflow/tfjs-node is not available (${message(err)})`;
      if (prefer === 'tensorflow') throw new Error(why, { cause: err });
      notes.push(why);
    }
  }
  if (prefer === 'wasm' || prefer === 'auto') {
    try {
      await useWasm();
      const simd = await tfjs.env().getAsync('WASM_HAS_SIMD_SUPPORT');
      const threads = await tfjs.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
      notes.push(`wasm backend (SIMD ${simd ? 'on' : 'off'}, threads ${threads ? 'on' : 'off'})`);
      return { tf: tfjs, backend: 'wasm', note: notes.join('; ') };
    } catch (err) {
      const why = `the wasm backend failed to start (${message(err)})`;
      if (prefer === 'wasm') throw new Error(why, { cause: err });
      notes.push(why);
    }
  }
  if (!(await tfjs.setBackend('cpu'))) throw new Error(`no tfjs backend could start: ${notes.join('; ')}`);
  await tfjs.ready();
  notes.push('plain-JS cpu backend');
  return { tf: tfjs, backend: 'cpu', note: notes.join('; ') };
}

async function loadNode(): Promise<Tf> {
  // The name is held in a variable so TypeScript does not look for the optional package's types.
  const name = '@tensorflow/tfjs-node';
  const mod = (await import(name)) as Tf & { default?: Tf };
  const tf = mod.default ?? mod;
  if (!(await tf.setBackend('tensorflow'))) throw new Error('the tensorflow backend did not initialise');
  await tf.ready();
  return tf;
}

async function useWasm(): Promise<void> {
  const exceptions = new Set(process.listeners('uncaughtException'));
  const rejections = new Set(process.listeners('unhandledRejection'));
  try {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const require = createRequire(import.meta.url);
    const dir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
    wasm.setWasmPaths(`${dir}${path.sep}dist${path.sep}`);
    if (!(await tfjs.setBackend('wasm'))) throw new Error('setBackend("wasm") returned false');
    await tfjs.ready();
  } finally {
    for (const l of process.listeners('uncaughtException'))
      if (!exceptions.has(l)) process.removeListener('uncaughtException', l);
    for (const l of process.listeners('unhandledRejection'))
      if (!rejections.has(l)) process.removeListener('unhandledRejection', l);
  }
}

const message = (err: unknown): string =>
  (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 200);
