/**
 * gnn-trainer's environment (a Job; a child process in the local modes): its command, where it
 * publishes and reads, where it writes model artifacts (a directory or an S3-compatible bucket) and which TensorFlow.js backend it wants.
 */
import { z } from 'zod';
import { ArtifactConfigShape } from '../../shared/artifacts/config.ts';
import { BaseConfig, env } from '../../shared/runtime/config.ts';

export const FUNCTION_NAME = 'gnn-trainer';

export const TrainerConfig = BaseConfig.extend({
  /** The start command as JSON: a Job gets its command from its environment, its stop as SIGTERM. */
  STREAMFORGE_COMMAND: z.string().min(1).optional(),
  /** Embedded mode: the parent's ingress, where this child publishes (shared/bus/create-bus.ts). */
  STREAMFORGE_INGRESS_URL: z.url().optional(),
  /** Where model artifacts go (tfjs model.json + weights.bin): ARTIFACT_STORE, ARTIFACT_DIR, ARTIFACT_S3_* (docs/artifacts.md). */
  ...ArtifactConfigShape,
  /** auto: tfjs-node when installed, else WebAssembly, else the plain JS CPU backend. */
  TFJS_BACKEND: z.enum(['auto', 'tensorflow', 'wasm', 'cpu']).default('auto'),
  /** Least time between two training progress events. */
  TRAIN_PROGRESS_MS: env.int(1000),
});
export type TrainerConfig = z.infer<typeof TrainerConfig>;
