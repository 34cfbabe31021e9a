/**
 * The training loop shared by the GNN and its MLP baseline (issue 15), so both see the same
 * batches, loss and stopping rule: Adam, binary cross-entropy weighted by the target mask
 * (a missing next return scores nothing), mini-batches of decision times in a seeded order,
 * early stopping on the validation loss with `patience`, and the best epoch's weights restored.
 *
 * Every step runs in tf.tidy, so tensors do not accumulate from one epoch to the next; the run
 * is reproducible to the last digit on one backend (seeded initialisers, seeded order, no
 * threads). An AbortSignal is checked between epochs.
 */
import type * as TF from '@tensorflow/tfjs';
import type { TrainingProgress } from '../../contracts/analytics.ts';
import type { Tf } from './backend.ts';
import type { GnnDataset } from './dataset.ts';
import { mulberry32, shuffle } from './random.ts';

export interface FitOptions {
  tf: Tf;
  model: TF.LayersModel;
  ds: GnnDataset;
  /** Whether the model takes the adjacency as its second input. */
  graph: boolean;
  epochs: number;
  patience: number;
  learningRate: number;
  batchSize: number;
  seed: number;
  backend: string;
  onEpoch?: ((p: TrainingProgress) => void) | undefined;
  signal?: AbortSignal | undefined;
}

export interface FitResult {
  epochsRun: number;
  /** 1-based epoch whose weights the model holds. */
  bestEpoch: number;
  bestValLoss: number;
  /** Mean wall time of an epoch (training steps plus validation), ms. */
  epochMs: number;
}

const EPS = 1e-7;

/** Model inputs of the samples `idx` (X, and A when `graph`). */
export function batchInputs(tf: Tf, ds: GnnDataset, idx: ArrayLike<number>, graph: boolean): TF.Tensor[] {
  const n = ds.symbols.length;
  const per = n * ds.lags;
  const b = idx.length;
  const x = new Float32Array(b * per);
  for (let r = 0; r < b; r++) x.set(ds.x.subarray(idx[r]! * per, (idx[r]! + 1) * per), r * per);
  const inputs: TF.Tensor[] = [tf.tensor3d(x, [b, n, ds.lags])];
  if (graph) {
    const a = new Float32Array(b * n * n);
    for (let r = 0; r < b; r++) a.set(ds.adjacency[ds.graph[idx[r]!]!]!, r * n * n);
    inputs.push(tf.tensor3d(a, [b, n, n]));
  }
  return inputs;
}

function targets(tf: Tf, ds: GnnDataset, idx: ArrayLike<number>): { y: TF.Tensor2D; m: TF.Tensor2D } {
  const n = ds.symbols.length;
  const y = new Float32Array(idx.length * n);
  const m = new Float32Array(idx.length * n);
  for (let r = 0; r < idx.length; r++) {
    y.set(ds.y.subarray(idx[r]! * n, (idx[r]! + 1) * n), r * n);
    m.set(ds.targetMask.subarray(idx[r]! * n, (idx[r]! + 1) * n), r * n);
  }
  return { y: tf.tensor2d(y, [idx.length, n]), m: tf.tensor2d(m, [idx.length, n]) };
}

/** Σ mask · BCE and Σ mask (the caller divides). */
function maskedBce(
  tf: Tf,
  p: TF.Tensor,
  y: TF.Tensor2D,
  m: TF.Tensor2D,
): { loss: TF.Scalar; weight: TF.Scalar } {
  const q = tf.clipByValue(tf.squeeze(p, [-1]), EPS, 1 - EPS);
  const ll = tf.add(tf.mul(y, tf.log(q)), tf.mul(tf.sub(1, y), tf.log(tf.sub(1, q))));
  return { loss: tf.neg(tf.sum(tf.mul(ll, m))) as TF.Scalar, weight: tf.sum(m) };
}

const range = (start: number, end: number): Int32Array =>
  Int32Array.from({ length: end - start }, (_, j) => start + j);

/** P(up) for the samples [start, end), flattened [K, N]. */
export function predictSpan(
  tf: Tf,
  model: TF.LayersModel,
  ds: GnnDataset,
  [start, end]: [number, number],
  graph: boolean,
  batchSize = 256,
): Float32Array {
  const n = ds.symbols.length;
  const out = new Float32Array((end - start) * n);
  for (let s = start; s < end; s += batchSize) {
    const idx = range(s, Math.min(end, s + batchSize));
    const p = tf.tidy(() => model.predict(batchInputs(tf, ds, idx, graph)) as TF.Tensor);
    out.set(p.dataSync(), (s - start) * n);
    p.dispose();
  }
  return out;
}

function evaluate(o: FitOptions): { loss: number; accuracy: number } {
  const { tf, ds } = o;
  const [start, end] = ds.split.validation;
  let loss = 0;
  let weight = 0;
  let correct = 0;
  for (let s = start; s < end; s += 256) {
    const idx = range(s, Math.min(end, s + 256));
    const [l, w, c] = tf.tidy(() => {
      const p = o.model.predict(batchInputs(tf, ds, idx, o.graph)) as TF.Tensor;
      const { y, m } = targets(tf, ds, idx);
      const bce = maskedBce(tf, p, y, m);
      const hit = tf.sum(
        tf.mul(
          tf.cast(tf.equal(tf.greaterEqual(tf.squeeze(p, [-1]), 0.5), tf.greater(y, 0.5)), 'float32'),
          m,
        ),
      );
      return [bce.loss, bce.weight, hit].map((t) => t.dataSync()[0]!);
    });
    loss += l!;
    weight += w!;
    correct += c!;
  }
  return { loss: loss / Math.max(weight, 1), accuracy: correct / Math.max(weight, 1) };
}

/** Train `o.model` in place; on return it holds the best epoch's weights. */
export async function fit(o: FitOptions): Promise<FitResult> {
  const { tf, ds, model } = o;
  const optimizer = tf.train.adam(o.learningRate);
  const vars = model.trainableWeights.map((w) => w.read() as TF.Variable);
  const rand = mulberry32(o.seed ^ 0x5eed);
  const [trainStart, trainEnd] = ds.split.train;
  let best = { loss: Infinity, epoch: 0, weights: [] as TF.Tensor[] };
  let epochsRun = 0;
  let elapsed = 0;
  try {
    for (let epoch = 1; epoch <= o.epochs; epoch++) {
      o.signal?.throwIfAborted();
      const t0 = performance.now();
      const order = shuffle(range(trainStart, trainEnd), rand);
      let loss = 0;
      let weight = 0;
      for (let s = 0; s < order.length; s += o.batchSize) {
        const idx = order.subarray(s, Math.min(order.length, s + o.batchSize));
        const [l, w] = tf.tidy(() => {
          const inputs = batchInputs(tf, ds, idx, o.graph);
          const { y, m } = targets(tf, ds, idx);
          const mass = tf.sum(m);
          let total: TF.Scalar | undefined;
          optimizer.minimize(
            () => {
              const bce = maskedBce(tf, model.apply(inputs, { training: true }) as TF.Tensor, y, m);
              total = tf.keep(bce.loss);
              return tf.div(bce.loss, tf.maximum(mass, 1));
            },
            false,
            vars,
          );
          const sums = [total!.dataSync()[0]!, mass.dataSync()[0]!];
          total!.dispose();
          return sums;
        });
        loss += l!;
        weight += w!;
      }
      const val = evaluate(o);
      elapsed += performance.now() - t0;
      epochsRun = epoch;
      if (val.loss < best.loss) {
        best.weights.forEach((t) => t.dispose());
        best = { loss: val.loss, epoch, weights: model.getWeights().map((t) => tf.keep(t.clone())) };
      }
      o.onEpoch?.({
        epoch,
        epochs: o.epochs,
        loss: loss / Math.max(weight, 1),
        val_loss: val.loss,
        val_accuracy: val.accuracy,
        backend: o.backend,
      });
      if (epoch - best.epoch >= o.patience) break;
      // Let timers, I/O and an abort run between epochs.
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (best.weights.length > 0) model.setWeights(best.weights);
  } finally {
    best.weights.forEach((t) => t.dispose());
    optimizer.dispose();
  }
  return {
    epochsRun,
    bestEpoch: best.epoch,
    bestValLoss: best.loss,
    epochMs: elapsed / Math.max(epochsRun, 1),
  };
}
