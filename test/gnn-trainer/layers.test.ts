/**
 * The graph layers (shared/analytics/gnn/layers.ts) against plain-JS references: messages flow
 * only along edges j → i, with their signs and weights; attention normalises over the edges and
 * the self-loop; and the gradients match finite differences (tfjs 4.22's broadcast BatchMatMul
 * gradient is wrong, which the layers must avoid).
 */
import type * as TF from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend, type Tf } from '../../shared/analytics/gnn/backend.ts';
import { GraphAttention, GraphConv } from '../../shared/analytics/gnn/layers.ts';
import { mulberry32 } from '../../shared/analytics/gnn/random.ts';

let tf: Tf;
beforeAll(async () => {
  ({ tf } = await selectBackend());
});

const N = 4;
const F = 3;
const rand = mulberry32(11);
const h0 = Array.from({ length: N * F }, () => rand() * 2 - 1);
// Edges: 0 → 1 (−0.5), 2 → 1 (0.25), 1 → 3 (0.8). Row = receiver.
const adj = new Array<number>(N * N).fill(0);
adj[1 * N + 0] = -0.5;
adj[1 * N + 2] = 0.25;
adj[3 * N + 1] = 0.8;

function run(layer: TF.layers.Layer, h: number[], a = adj): number[][] {
  return tf.tidy(() => {
    const out = layer.apply([tf.tensor3d(h, [1, N, F]), tf.tensor3d(a, [1, N, N])]) as TF.Tensor;
    const v = Array.from(out.dataSync());
    const u = out.shape[2]!;
    return Array.from({ length: N }, (_, i) => v.slice(i * u, (i + 1) * u));
  });
}

const matrix = (t: TF.Tensor): number[][] => t.arraySync() as number[][];
const dot = (x: number[], w: number[][]): number[] =>
  w[0]!.map((_, c) => x.reduce((s, xi, r) => s + xi * w[r]![c]!, 0));
const row = (h: number[], i: number): number[] => h.slice(i * F, (i + 1) * F);

describe.each([
  ['GraphConv', () => new GraphConv({ units: 2, activation: 'tanh', seed: 1 })],
  ['GraphAttention', () => new GraphAttention({ units: 2, heads: 2, activation: 'tanh', seed: 1 })],
])('%s', (_name, make) => {
  it('passes messages only along edges j → i', () => {
    const layer = make();
    const base = run(layer, h0);
    const moved = (node: number): number[][] =>
      run(
        layer,
        h0.map((v, j) => (Math.floor(j / F) === node ? v + 1 : v)),
      );
    // Node 0 sends to 1 only: 1 changes, 3 (no edge from 0) and 2 do not.
    const m0 = moved(0);
    expect(m0[1]).not.toEqual(base[1]);
    expect(m0[2]).toEqual(base[2]);
    expect(m0[3]).toEqual(base[3]);
    // Node 3 sends to nobody: only its own output moves.
    const m3 = moved(3);
    [0, 1, 2].forEach((i) => expect(m3[i]).toEqual(base[i]));
    expect(m3[3]).not.toEqual(base[3]);
  });
});

describe('GraphConv', () => {
  it('is act(Â·H·W + H·W_self + b) with Â row-normalised by Σ|w|', () => {
    const layer = new GraphConv({ units: 2, activation: 'tanh', seed: 2 });
    const out = run(layer, h0);
    const [w, ws, b] = layer.getWeights();
    const W = matrix(w!);
    const Ws = matrix(ws!);
    const bias = Array.from(b!.dataSync());
    for (let i = 0; i < N; i++) {
      const total = adj.slice(i * N, i * N + N).reduce((s, v) => s + Math.abs(v), 0);
      const msg = [0, 0];
      for (let j = 0; j < N; j++) {
        const a = adj[i * N + j]!;
        if (a !== 0) dot(row(h0, j), W).forEach((v, c) => (msg[c]! += (a / total) * v));
      }
      const self = dot(row(h0, i), Ws);
      const want = msg.map((m, c) => Math.tanh(m + self[c]! + bias[c]!));
      want.forEach((v, c) => expect(out[i]![c]).toBeCloseTo(v, 5));
    }
  });
});

describe('GraphAttention', () => {
  it('is a softmax over the edges and the self-loop, with the edge strength in the logit and its sign in the message', () => {
    const layer = new GraphAttention({ units: 2, heads: 1, activation: 'linear', seed: 3 });
    run(layer, h0); // builds the weights
    const [k, as, an] = layer.getWeights();
    layer.setWeights([k!, as!, an!, tf.tensor1d([0.7]), tf.tensor1d([0.1, -0.2])]);
    const out = run(layer, h0);
    const W = matrix(k!);
    const aSelf = matrix(as!)[0]!;
    const aNb = matrix(an!)[0]!;
    const wh = Array.from({ length: N }, (_, i) => dot(row(h0, i), W));
    const score = (v: number[], a: number[]): number => v.reduce((s, x, j) => s + x * a[j]!, 0);
    const leaky = (x: number): number => (x > 0 ? x : 0.2 * x);
    for (let i = 0; i < N; i++) {
      const from = [i, ...[0, 1, 2, 3].filter((j) => adj[i * N + j] !== 0)];
      const logits = from.map((j) =>
        leaky(score(wh[i]!, aSelf) + score(wh[j]!, aNb) + 0.7 * Math.abs(j === i ? 0 : adj[i * N + j]!)),
      );
      const z = logits.map((l) => Math.exp(l - Math.max(...logits)));
      const sum = z.reduce((s, v) => s + v, 0);
      const want = [0.1, -0.2];
      from.forEach((j, m) => {
        const sign = j === i ? 1 : Math.sign(adj[i * N + j]!);
        wh[j]!.forEach((v, col) => (want[col]! += (z[m]! / sum) * sign * v));
      });
      want.forEach((v, col) => expect(out[i]![col]).toBeCloseTo(v, 5));
    }
  });
});

describe.each([
  ['GraphConv', () => new GraphConv({ units: 3, activation: 'tanh', seed: 4 })],
  ['GraphAttention', () => new GraphAttention({ units: 2, heads: 2, activation: 'tanh', seed: 4 })],
])('%s gradients', (_name, make) => {
  it('match finite differences on a batch of 3', () => {
    const B = 3;
    const layer = make();
    const h = tf.tensor3d(
      Array.from({ length: B * N * F }, () => rand() * 2 - 1),
      [B, N, F],
    );
    const a = tf.tensor3d(
      [...adj, ...adj.map((v) => -v), ...adj.map((v, j) => (j % 5 === 0 ? 0 : v))],
      [B, N, N],
    );
    const r = tf.tensor3d(
      Array.from({ length: B * N * 4 }, () => rand() * 2 - 1),
      [B, N, 4],
    );
    const loss = (): TF.Scalar => {
      const out = layer.apply([h, a]) as TF.Tensor;
      return tf.sum<TF.Scalar>(tf.mul(out, r.slice([0, 0, 0], out.shape)));
    };
    tf.tidy(loss); // builds the weights
    const vars = layer.trainableWeights.map((w) => w.read() as TF.Variable);
    const { grads } = tf.variableGrads(loss, vars);
    const eps = 1e-2;
    for (const v of vars) {
      const g = grads[v.name]!;
      expect(g.shape).toEqual(v.shape);
      const values = v.dataSync().slice();
      const gv = g.dataSync();
      for (const j of [0, Math.floor(values.length / 2), values.length - 1]) {
        const at = (d: number): number => {
          const moved = values.slice();
          moved[j] = values[j]! + d;
          v.assign(tf.tensor(moved, v.shape));
          return tf.tidy(() => loss().dataSync()[0]!);
        };
        const numeric = (at(eps) - at(-eps)) / (2 * eps);
        v.assign(tf.tensor(values, v.shape));
        expect(Math.abs(numeric - gv[j]!)).toBeLessThan(2e-3 + 2e-2 * Math.abs(gv[j]!));
      }
    }
  });
});
