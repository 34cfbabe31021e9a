/**
 * A trained model in the tfjs LayersModel format (issue 15): `model.json` (topology, weights
 * manifest, optional metadata) and `weights.bin`, stored through the artifact-store port
 * (shared/artifacts: a directory or an S3-compatible bucket, addressed by a URI; issue 16).
 * Written through a custom save handler and read through `fromMemory`, because the `file://`
 * handler exists only in tfjs-node and this must work on every backend and every store.
 * Importing this module registers the custom graph layers, which loading needs.
 */
import type * as TF from '@tensorflow/tfjs';
import type { ArtifactStore } from '../../artifacts/store.ts';
import type { Tf } from './backend.ts';
import './layers.ts';

export const MODEL_FILE = 'model.json';
export const WEIGHTS_FILE = 'weights.bin';

export interface SavedModel {
  /** The artifact's URI (`file:///…/` or `s3://bucket/prefix/id/`). */
  uri: string;
  /** File names written, in the artifact. */
  files: string[];
  bytes: number;
}

/** The model's two files in memory; `metadata` lands in model.json's userDefinedMetadata. */
export async function modelFiles(
  model: TF.LayersModel,
  metadata?: Record<string, unknown>,
): Promise<[string, Uint8Array][]> {
  // The handler runs inside model.save; the tfjs namespace comes with the handler factory.
  const tf = await import('@tensorflow/tfjs');
  let files: [string, Uint8Array][] | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      if (a.modelTopology === undefined || a.weightSpecs === undefined)
        throw new Error('the model gave no topology or weights to save');
      const weights = new Uint8Array(tf.io.CompositeArrayBuffer.join(a.weightData ?? new ArrayBuffer(0)));
      const json: TF.io.ModelJSON = {
        modelTopology: a.modelTopology,
        format: a.format ?? 'layers-model',
        generatedBy: a.generatedBy ?? `TensorFlow.js tfjs-layers v${tf.version.tfjs}`,
        convertedBy: a.convertedBy ?? null,
        weightsManifest: [{ paths: [`./${WEIGHTS_FILE}`], weights: a.weightSpecs }],
        ...(a.userDefinedMetadata !== undefined || metadata !== undefined
          ? {
              userDefinedMetadata: {
                ...a.userDefinedMetadata,
                ...metadata,
              } as TF.io.ModelJSON['userDefinedMetadata'],
            }
          : {}),
      };
      // weights first: a reader that finds model.json finds its weights.
      files = [
        [WEIGHTS_FILE, weights],
        [MODEL_FILE, new TextEncoder().encode(JSON.stringify(json))],
      ];
      return Promise.resolve({ modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(a) });
    }),
  );
  return files!;
}

/** Writes `model` to the artifact `uri` of `store`. */
export async function saveModel(
  model: TF.LayersModel,
  store: ArtifactStore,
  uri: string,
  metadata?: Record<string, unknown>,
): Promise<SavedModel> {
  const files = await modelFiles(model, metadata);
  const { bytes } = await store.put(uri, files);
  return { uri, files: [MODEL_FILE, WEIGHTS_FILE], bytes };
}

/**
 * Reads a model written by `saveModel` (its metadata: `model.getUserDefinedMetadata()`). `uri` is
 * an artifact URI or, as registries stored before URIs, a plain directory path. The port's
 * ArtifactNotFoundError / ArtifactUnavailableError pass through.
 */
export async function loadModel(tf: Tf, store: ArtifactStore, uri: string): Promise<TF.LayersModel> {
  const text = new TextDecoder().decode(await store.get(uri, MODEL_FILE));
  let json: TF.io.ModelJSON;
  try {
    json = JSON.parse(text) as TF.io.ModelJSON;
  } catch (err) {
    throw new Error(`artifact ${uri}: ${MODEL_FILE} is not JSON (${(err as Error).message})`, {
      cause: err,
    });
  }
  const artifacts = await tf.io.getModelArtifactsForJSON(json, async (manifest) => {
    const specs = manifest.flatMap((group) => group.weights);
    const buffers = await Promise.all(
      manifest.flatMap((group) => group.paths).map((p) => store.get(uri, p.replace(/^\.\//, ''))),
    );
    const data = buffers.map((b) => b.slice().buffer);
    return [specs, tf.io.CompositeArrayBuffer.join(data)];
  });
  return tf.loadLayersModel(tf.io.fromMemory(artifacts));
}
