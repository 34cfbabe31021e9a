/**
 * A trained GNN's forecast for the latest decision time (issue 15): P(up) of every asset's next
 * return, from its last `lags` returns (standardised with the train span's mean and std) and the
 * given snapshot's adjacency. The snapshot must not be newer than the decision time (no
 * look-ahead), and every asset needs all of its last `lags` returns.
 */
import type * as TF from '@tensorflow/tfjs';
import type { GraphMethod, GraphSnapshot } from '../../contracts/analytics.ts';
import { InvalidInputError } from '../../runtime/errors.ts';
import type { Tf } from './backend.ts';
import { adjacencyOf, iso, type ReturnsInput } from './dataset.ts';

export interface PredictOptions {
  lags: number;
  feature_mean: number;
  feature_std: number;
  edge_method: GraphMethod;
}

export interface Prediction {
  symbol: string;
  p_up: number;
  /** The decision time (close time of the last return). */
  time: number;
}

export function predictLatest(
  tf: Tf,
  model: TF.LayersModel,
  returns: ReturnsInput,
  snapshot: GraphSnapshot,
  o: PredictOptions,
): Prediction[] {
  const n = returns.symbols.length;
  const k = returns.times.length - 1;
  const time = returns.times[k];
  if (time === undefined || k + 1 < o.lags)
    throw new InvalidInputError(`predict needs ${o.lags} returns per asset; got ${returns.times.length}`);
  if (snapshot.t > time)
    throw new InvalidInputError(`snapshot ${iso(snapshot.t)} is newer than the decision time ${iso(time)}`);
  if (!(o.feature_std > 0))
    throw new InvalidInputError(`feature_std must be positive (got ${o.feature_std})`);
  const x = new Float32Array(n * o.lags);
  const lacking: string[] = [];
  returns.symbols.forEach((symbol, i) => {
    for (let l = 0; l < o.lags; l++) {
      const v = returns.returns[i]![k - o.lags + 1 + l];
      if (v === undefined || !Number.isFinite(v)) {
        lacking.push(symbol);
        return;
      }
      x[i * o.lags + l] = (v - o.feature_mean) / o.feature_std;
    }
  });
  if (lacking.length > 0)
    throw new InvalidInputError(
      `missing one of the last ${o.lags} returns at ${iso(time)}: ${lacking.join(', ')}`,
    );
  const a = adjacencyOf(snapshot, new Map(returns.symbols.map((s, i) => [s, i])), o.edge_method);
  const p = tf.tidy(() => {
    const inputs = [tf.tensor3d(x, [1, n, o.lags]), tf.tensor3d(a, [1, n, n])].slice(0, model.inputs.length);
    return (model.predict(inputs) as TF.Tensor).dataSync();
  });
  return returns.symbols.map((symbol, i) => ({ symbol, p_up: p[i]!, time }));
}
