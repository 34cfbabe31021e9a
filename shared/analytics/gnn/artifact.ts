/**
 * A trained model on disk in the tfjs LayersModel format (issue 15): `model.json` (topology,
 * weights manifest, optional metadata) and `weights.bin`. Written through a custom save handler
 * and read through `fromMemory`, because the `file://` handler exists only in tfjs-node and this
 * must work on every backend. Importing this module registers the custom graph layers, which
 * loading needs.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import type { Tf } from './backend.ts';
import './layers.ts';

export const MODEL_FILE = 'model.json';
export const WEIGHTS_FILE = 'weights.bin';

export interface SavedModel {
  /** Absolute paths written. */
  files: string[];
  bytes: number;
}

/** Write `model` to `dir` (created if needed); `metadata` lands in model.json's userDefinedMetadata. */
export async function saveModel(
  model: TF.LayersModel,
  dir: string,
  metadata?: Record<string, unknown>,
): Promise<SavedModel> {
  // The handler runs inside model.save; the tfjs namespace comes with the handler factory.
  const tf = await import('@tensorflow/tfjs');
  await mkdir(dir, { recursive: true });
  let saved: SavedModel | undefined;
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
      const text = JSON.stringify(json);
      const files = [path.resolve(dir, MODEL_FILE), path.resolve(dir, WEIGHTS_FILE)];
      await writeFile(files[0]!, text);
      await writeFile(files[1]!, weights);
      saved = { files, bytes: Buffer.byteLength(text) + weights.byteLength };
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(a) };
    }),
  );
  return saved!;
}

/** Read a model written by `saveModel` (its metadata: `model.getUserDefinedMetadata()`). */
export async function loadModel(tf: Tf, dir: string): Promise<TF.LayersModel> {
  const json = JSON.parse(await readFile(path.join(dir, MODEL_FILE), 'utf8')) as TF.io.ModelJSON;
  const artifacts = await tf.io.getModelArtifactsForJSON(json, async (manifest) => {
    const specs = manifest.flatMap((group) => group.weights);
    const buffers = await Promise.all(
      manifest.flatMap((group) => group.paths).map((p) => readFile(path.join(dir, p))),
    );
    const data = buffers.map((b) => new Uint8Array(b).buffer);
    return [specs, tf.io.CompositeArrayBuffer.join(data)];
  });
  return tf.loadLayersModel(tf.io.fromMemory(artifacts));
}
