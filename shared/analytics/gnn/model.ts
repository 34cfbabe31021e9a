/**
 * The GNN and its MLP twin (issue 15). Inputs X [B, N, L] (each asset's standardised lags) and
 * A [B, N, N] (signed adjacency, row = receiver); output P(up) [B, N, 1]:
 *
 *   X → Dense(hidden, tanh) = E → GraphConv | GraphAttention (E, A) = G → [E ‖ G] → Dense(1, sigmoid)
 *
 * The encoder output skips past the graph layer, so the model can ignore a useless graph and fall
 * back to what the MLP baseline (`buildMlp`: the same encoder straight into the output) can do.
 * N is left open, so one model predicts for any number of assets. Every initialiser is seeded
 * from `seed`, so training is reproducible.
 */
import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs';
import type { Tf } from './backend.ts';
import { GraphAttention, GraphConv } from './layers.ts';

export interface GnnShape {
  architecture: 'gcn' | 'gat';
  lags: number;
  hidden: number;
  /** Attention heads (gat only); concatenated, each of width ⌈hidden / heads⌉. */
  heads: number;
  seed: number;
}

const ENCODER_ACTIVATION = 'tanh';

export function buildGnn(tf: Tf, o: GnnShape): LayersModel {
  const x = tf.input({ shape: [null, o.lags], name: 'x' });
  const a = tf.input({ shape: [null, null], name: 'a' });
  const encoded = tf.layers
    .dense({
      units: o.hidden,
      activation: ENCODER_ACTIVATION,
      kernelInitializer: tf.initializers.glorotUniform({ seed: o.seed }),
      name: 'encoder',
    })
    .apply(x) as SymbolicTensor;
  const graph =
    o.architecture === 'gcn'
      ? new GraphConv({ units: o.hidden, activation: 'relu', seed: o.seed + 101, name: 'graph' })
      : new GraphAttention({
          units: Math.max(1, Math.ceil(o.hidden / o.heads)),
          heads: o.heads,
          concat: true,
          activation: 'relu',
          seed: o.seed + 101,
          name: 'graph',
        });
  const messages = graph.apply([encoded, a]) as SymbolicTensor;
  const joined = tf.layers.concatenate({ axis: -1, name: 'skip' }).apply([encoded, messages]);
  const p = tf.layers
    .dense({
      units: 1,
      activation: 'sigmoid',
      kernelInitializer: tf.initializers.glorotUniform({ seed: o.seed + 202 }),
      name: 'p_up',
    })
    .apply(joined) as SymbolicTensor;
  return tf.model({ inputs: [x, a], outputs: p, name: `gnn_${o.architecture}` });
}

/** The MLP baseline: the GNN's encoder and head without the graph (sees each asset's own lags only). */
export function buildMlp(tf: Tf, o: Pick<GnnShape, 'lags' | 'hidden' | 'seed'>): LayersModel {
  const x = tf.input({ shape: [null, o.lags], name: 'x' });
  const encoded = tf.layers
    .dense({
      units: o.hidden,
      activation: ENCODER_ACTIVATION,
      kernelInitializer: tf.initializers.glorotUniform({ seed: o.seed }),
      name: 'encoder',
    })
    .apply(x);
  const p = tf.layers
    .dense({
      units: 1,
      activation: 'sigmoid',
      kernelInitializer: tf.initializers.glorotUniform({ seed: o.seed + 202 }),
      name: 'p_up',
    })
    .apply(encoded) as SymbolicTensor;
  return tf.model({ inputs: x, outputs: p, name: 'mlp' });
}
