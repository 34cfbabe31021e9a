/**
 * The two graph layers of the GNN (issue 15), as tfjs custom layers registered for serialisation
 * so a trained model saves and loads in the tfjs LayersModel format (importing this module
 * registers them). Inputs of each: [H: [B, N, F], A: [B, N, N]] with A[i][j] the signed weight of
 * the edge j → i (row i receives).
 *
 * - GraphConv (GCN-style): H' = act(Â·(H W) + H W_self + b), Â = A row-normalised by Σ_j |w_ij|, so
 *   both the weights and their signs and directions count; the self term is a separate matrix.
 * - GraphAttention (GAT-style): per head e_ij = LeakyReLU(a_srcᵀ W h_i + a_dstᵀ W h_j + c·|w_ij|)
 *   over the edges j → i plus a self-loop, α = softmax_j(e), message Σ_j α_ij · sign(w_ij) · W h_j;
 *   the edge's strength enters the logit and its sign the message. Heads are concatenated or
 *   averaged.
 *
 * Weight matrices are applied as 2-D products ([B·N, F] × [F, H]): tfjs 4.22 computes a wrong
 * gradient for a batched product whose second operand broadcasts over the batch. Batched
 * products with equal batch dimensions (A × HW) are fine. Message passing is dense: the wasm
 * backend has neither UnsortedSegmentSum nor a sparse product.
 */
import * as tf from '@tensorflow/tfjs';

type Initializer = ReturnType<typeof tf.initializers.glorotUniform>;

export type GraphActivation = 'relu' | 'tanh' | 'elu' | 'linear';

function activate(x: tf.Tensor, name: GraphActivation): tf.Tensor {
  switch (name) {
    case 'relu':
      return tf.relu(x);
    case 'tanh':
      return tf.tanh(x);
    case 'elu':
      return tf.elu(x);
    case 'linear':
      return x;
  }
}

/** x [B, N, F] times w [F, U] → [B, N, U], through a 2-D product (see the header). */
function applyWeight(x: tf.Tensor, w: tf.Tensor): tf.Tensor3D {
  const [b, n, f] = x.shape as [number, number, number];
  return tf.matMul(x.reshape([b * n, f]), w as tf.Tensor2D).reshape([b, n, w.shape[1]!]);
}

function shapes(inputShape: tf.Shape | tf.Shape[]): [tf.Shape, tf.Shape] {
  if (!Array.isArray(inputShape[0]) || inputShape.length !== 2)
    throw new Error('a graph layer takes two inputs: [H: [B, N, F], A: [B, N, N]]');
  return inputShape as [tf.Shape, tf.Shape];
}

function pair(inputs: tf.Tensor | tf.Tensor[]): [tf.Tensor3D, tf.Tensor3D] {
  if (!Array.isArray(inputs) || inputs.length !== 2)
    throw new Error('a graph layer takes two inputs: [H: [B, N, F], A: [B, N, N]]');
  return inputs as [tf.Tensor3D, tf.Tensor3D];
}

export interface GraphConvArgs {
  units: number;
  activation?: GraphActivation;
  seed?: number;
  name?: string;
}

export class GraphConv extends tf.layers.Layer {
  static readonly className = 'GraphConv';
  readonly units: number;
  readonly activation: GraphActivation;
  readonly seed: number;
  private kernel: tf.LayerVariable | undefined;
  private selfKernel: tf.LayerVariable | undefined;
  private bias: tf.LayerVariable | undefined;

  constructor(args: GraphConvArgs) {
    super(args.name === undefined ? {} : { name: args.name });
    this.units = args.units;
    this.activation = args.activation ?? 'relu';
    this.seed = args.seed ?? 0;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const [h] = shapes(inputShape);
    const f = h[h.length - 1]!;
    const glorot = (k: number): Initializer => tf.initializers.glorotUniform({ seed: this.seed + k });
    this.kernel = this.addWeight('kernel', [f, this.units], 'float32', glorot(0));
    this.selfKernel = this.addWeight('self_kernel', [f, this.units], 'float32', glorot(1));
    this.bias = this.addWeight('bias', [this.units], 'float32', tf.initializers.zeros());
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const [h] = shapes(inputShape);
    return [h[0] ?? null, h[1] ?? null, this.units];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const [h, a] = pair(inputs);
      // A row without edges sums to 0 and stays 0 (not divNoNan: its broadcast Equal is slow on wasm).
      const norm = tf.div(a, tf.maximum(tf.sum(tf.abs(a), -1, true), 1e-12));
      const messages = tf.matMul(norm, applyWeight(h, this.kernel!.read()));
      const self = applyWeight(h, this.selfKernel!.read());
      return activate(tf.add(tf.add(messages, self), this.bias!.read()), this.activation);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), units: this.units, activation: this.activation, seed: this.seed };
  }
}

export interface GraphAttentionArgs {
  /** Output width of each head. */
  units: number;
  heads?: number;
  /** Concatenate the heads (width heads·units) or average them (width units). */
  concat?: boolean;
  activation?: GraphActivation;
  seed?: number;
  name?: string;
}

export class GraphAttention extends tf.layers.Layer {
  static readonly className = 'GraphAttention';
  readonly units: number;
  readonly heads: number;
  readonly concat: boolean;
  readonly activation: GraphActivation;
  readonly seed: number;
  private kernel: tf.LayerVariable | undefined;
  private attnSelf: tf.LayerVariable | undefined;
  private attnNeighbour: tf.LayerVariable | undefined;
  private edgeCoef: tf.LayerVariable | undefined;
  private bias: tf.LayerVariable | undefined;

  constructor(args: GraphAttentionArgs) {
    super(args.name === undefined ? {} : { name: args.name });
    this.units = args.units;
    this.heads = args.heads ?? 1;
    this.concat = args.concat ?? true;
    this.activation = args.activation ?? 'relu';
    this.seed = args.seed ?? 0;
  }

  private get width(): number {
    return this.concat ? this.heads * this.units : this.units;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const [h] = shapes(inputShape);
    const f = h[h.length - 1]!;
    const glorot = (k: number): Initializer => tf.initializers.glorotUniform({ seed: this.seed + k });
    this.kernel = this.addWeight('kernel', [f, this.heads * this.units], 'float32', glorot(0));
    this.attnSelf = this.addWeight('attn_self', [this.heads, this.units], 'float32', glorot(1));
    this.attnNeighbour = this.addWeight('attn_neighbour', [this.heads, this.units], 'float32', glorot(2));
    this.edgeCoef = this.addWeight('edge_coef', [this.heads], 'float32', tf.initializers.zeros());
    this.bias = this.addWeight('bias', [this.width], 'float32', tf.initializers.zeros());
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const [h] = shapes(inputShape);
    return [h[0] ?? null, h[1] ?? null, this.width];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const [h, a] = pair(inputs);
      const [b, n] = h.shape;
      const k = this.heads;
      const u = this.units;
      // [B, N, K·U] → [B, K, N, U]: one attention per head, batched over B·K.
      const wh = applyWeight(h, this.kernel!.read()).reshape([b, n, k, u]).transpose([0, 2, 1, 3]);
      const toSelf = tf.sum(tf.mul(wh, this.attnSelf!.read().reshape([1, k, 1, u])), -1); // [B, K, N]
      const toNeighbour = tf.sum(tf.mul(wh, this.attnNeighbour!.read().reshape([1, k, 1, u])), -1);
      const strength = tf.abs(a).expandDims(1); // [B, 1, N, N]
      const logits = tf.leakyRelu(
        tf.add(
          tf.add(toSelf.expandDims(3), toNeighbour.expandDims(2)), // e[i][j] = a_selfᵀWh_i + a_nbᵀWh_j
          tf.mul(strength, this.edgeCoef!.read().reshape([1, k, 1, 1])),
        ),
        0.2,
      );
      const eye = tf.eye(n).reshape([1, 1, n, n]);
      // Edges j → i plus the self-loop (A's diagonal is empty: adjacencyOf drops self-edges);
      // everything else gets −1e9 before the softmax. Add, not Maximum: a broadcast Maximum is
      // slow on wasm.
      const mask = tf.add(tf.cast(tf.notEqual(strength, 0), 'float32'), eye);
      const alpha = tf.softmax(tf.add(logits, tf.mul(tf.sub(1, mask), -1e9)), -1);
      const signs = tf.add(tf.sign(a).expandDims(1), eye); // the self-loop carries +1
      const weighted = tf.mul(alpha, signs).reshape([b * k, n, n]);
      const out = tf.matMul(weighted, wh.reshape([b * k, n, u])).reshape([b, k, n, u]);
      const merged = this.concat ? out.transpose([0, 2, 1, 3]).reshape([b, n, k * u]) : tf.mean(out, 1);
      return activate(tf.add(merged, this.bias!.read()), this.activation);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      units: this.units,
      heads: this.heads,
      concat: this.concat,
      activation: this.activation,
      seed: this.seed,
    };
  }
}

tf.serialization.registerClass(GraphConv);
tf.serialization.registerClass(GraphAttention);
