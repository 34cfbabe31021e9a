/**
 * gnn-trainer's environment (a Job; a child process in the local modes): its command, where it
 * publishes and reads, where it writes model artifacts and which TensorFlow.js backend it wants.
 */
import { z } from 'zod';
import { BaseConfig, env } from '../../shared/runtime/config.ts';

export const FUNCTION_NAME = 'gnn-trainer';

export const TrainerConfig = BaseConfig.extend({
  /** The start command as JSON: a Job gets its command from its environment, its stop as SIGTERM. */
  STREAMFORGE_COMMAND: z.string().min(1).optional(),
  /** Embedded mode: the parent's ingress, where this child publishes (shared/bus/create-bus.ts). */
  STREAMFORGE_INGRESS_URL: z.url().optional(),
  /** Model artifacts (tfjs model.json + weights.bin), one directory per model. */
  ARTIFACT_DIR: z.string().min(1).default('data/models'),
  /** auto: tfjs-node when installed, else WebAssembly, else the plain JS CPU backend. */
  TFJS_BACKEND: z.enum(['auto', 'tensorflow', 'wasm', 'cpu']).default('auto'),
  /** Least time between two training progress events. */
  TRAIN_PROGRESS_MS: env.int(1000),
});
export type TrainerConfig = z.infer<typeof TrainerConfig>;
