/**
 * GNN epoch time and training time (issue 14) on 50 symbols × 2 years of 1h (a synthetic market
 * with a known lead-lag graph), with the graph-builder's own lead-lag snapshots (30-day window,
 * daily) as the adjacency: StreamForge's trainer (tfjs on WebAssembly; tfjs-node too when it is
 * installed) against the same model in PyTorch Geometric on the CPU (bench/py/gnn_pyg.py), on the
 * same samples, batch size and number of epochs, in the same run.
 *
 *   npx tsx bench/gnn.ts [--epochs 3] [--arch gcn,gat] [--batch 64] [--symbols 50] [--days 730] [--full]
 *
 * `--full` also times a whole training as a gnn_train workflow runs it (trainGnn: the request's
 * defaults, early stopping, the four baselines, bootstrap intervals), StreamForge only.
 *
 * Epoch = one pass over the train span in mini-batches plus one validation pass, as fit.ts counts
 * it. tfjs's wasm backend runs one thread here (threads need cross-origin isolation / a worker
 * pool tfjs-wasm does not start under Node 20), so PyG is measured with 1 thread (the like-for-like
 * ratio) and with every core (what a PyG user gets by default).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { syntheticMarket } from '../functions/dummy-service/synthetic-market.ts';
import { selectBackend, type BackendPreference } from '../shared/analytics/gnn/backend.ts';
import { buildDataset, type GnnDataset } from '../shared/analytics/gnn/dataset.ts';
import { fit } from '../shared/analytics/gnn/fit.ts';
import { buildGnn } from '../shared/analytics/gnn/model.ts';
import { trainGnn } from '../shared/analytics/gnn/train.ts';
import { alignReturns, buildSnapshots } from '../shared/analytics/graph.ts';
import { GnnRequest, graphParamsOf, GraphRequest } from '../shared/contracts/analytics.ts';
import { runPython } from './python.ts';

const HOUR = 3_600_000;
const { values } = parseArgs({
  options: {
    epochs: { type: 'string', default: '3' },
    arch: { type: 'string', default: 'gcn,gat' },
    batch: { type: 'string', default: '64' },
    symbols: { type: 'string', default: '50' },
    days: { type: 'string', default: '730' },
    full: { type: 'boolean', default: false },
  },
});
const epochs = Number(values.epochs);
const batch = Number(values.batch);
const architectures = values.arch.split(',') as ('gcn' | 'gat')[];
const bars = Number(values.days) * 24;

const m = syntheticMarket({ symbols: Number(values.symbols), bars, seed: 5 });
const start = m.start;
const end = start + bars * HOUR;
const aligned = alignReturns(m.symbols, new Map(m.symbols.map((s, i) => [s, m.klines[i]!])), {
  start,
  end,
  interval_ms: HOUR,
});
const t = performance.now();
const snapshots = buildSnapshots(
  aligned,
  graphParamsOf(GraphRequest.parse({ interval: '1h', window: '30d', step: '1d', methods: ['lead_lag'] }), {
    symbols: m.symbols,
    market: 'spot',
    start,
    end,
  }),
);
const snapshotMs = performance.now() - t;
const base = GnnRequest.parse({ graph_id: 'bench', epochs, patience: epochs + 1 });
const ds = buildDataset(aligned, snapshots, base);
const dir = mkdtempSync(join(tmpdir(), 'sf-bench-gnn-'));

function exportDataset(d: GnnDataset): void {
  const n = d.symbols.length;
  const adjacency = new Float32Array(d.adjacency.length * n * n);
  d.adjacency.forEach((a, g) => adjacency.set(a, g * n * n));
  writeFileSync(join(dir, 'x.f32'), d.x);
  writeFileSync(join(dir, 'y.f32'), d.y);
  writeFileSync(join(dir, 'mask.f32'), d.targetMask);
  writeFileSync(join(dir, 'graph.i32'), d.graph);
  writeFileSync(join(dir, 'adjacency.f32'), adjacency);
  const meta = { K: d.size, N: n, L: d.lags, G: d.adjacency.length, ...d.split };
  writeFileSync(join(dir, 'meta.json'), JSON.stringify(meta));
}

interface Run {
  name: string;
  epochMs: number[];
  setupMs: number;
  valLoss: number;
}

async function tfjsRun(architecture: 'gcn' | 'gat', prefer: BackendPreference): Promise<Run> {
  const t0 = performance.now();
  const { tf, backend } = await selectBackend(prefer);
  const request = { ...base, architecture };
  const model = buildGnn(tf, { ...request, seed: request.seed });
  const setupMs = performance.now() - t0;
  const epochMs: number[] = [];
  let last = performance.now();
  let valLoss = NaN;
  try {
    await fit({
      tf,
      model,
      ds,
      graph: true,
      epochs,
      patience: epochs + 1,
      learningRate: request.learning_rate,
      batchSize: batch,
      seed: request.seed,
      backend,
      onEpoch: (p) => {
        const now = performance.now();
        epochMs.push(now - last);
        last = now;
        valLoss = p.val_loss;
      },
    });
  } finally {
    model.dispose();
  }
  return { name: `StreamForge tfjs-${backend}`, epochMs, setupMs, valLoss };
}

async function pygRun(architecture: 'gcn' | 'gat', threads: number): Promise<Run> {
  const r = await runPython<{ epoch_seconds: number[]; setup_seconds: number; val_loss: number }>(
    'gnn_pyg.py',
    {
      dir,
      architecture,
      epochs,
      batch,
      hidden: base.hidden,
      heads: base.heads,
      lr: base.learning_rate,
      seed: base.seed,
      threads,
    },
  );
  return {
    name: `PyG ${threads} thread${threads > 1 ? 's' : ''}`,
    epochMs: r.epoch_seconds.map((s) => 1000 * s),
    setupMs: 1000 * r.setup_seconds,
    valLoss: r.val_loss,
  };
}

const median = (v: number[]): number => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

try {
  exportDataset(ds);
  const n = ds.symbols.length;
  const edges = ds.adjacency.reduce((s, a) => s + a.filter((w) => w !== 0).length, 0) / ds.adjacency.length;
  console.log(
    `GNN bench: ${n} assets × ${bars} bars of 1h; ${snapshots.length} lead-lag snapshots (built in ` +
      `${(snapshotMs / 1000).toFixed(1)} s, ${edges.toFixed(0)} edges each on average); ` +
      `${ds.split.train[1] - ds.split.train[0]} train / ${ds.split.validation[1] - ds.split.validation[0]} ` +
      `validation decision times; batch ${batch}, hidden ${base.hidden}, heads ${base.heads}, lags ${base.lags}, ` +
      `${epochs} epochs each`,
  );
  let tensorflow = true;
  for (const architecture of architectures) {
    const runs: Run[] = [await tfjsRun(architecture, 'wasm')];
    if (tensorflow)
      try {
        runs.push(await tfjsRun(architecture, 'tensorflow'));
      } catch (err) {
        tensorflow = false;
        console.log(`tfjs-node: not measured (${(err as Error).message.split('\n')[0]})`);
      }
    const pyg1 = await pygRun(architecture, 1);
    const pygAll = await pygRun(architecture, 2);
    runs.push(pyg1, pygAll);
    const ref = median(pyg1.epochMs);
    console.log(`\n${architecture}:`);
    console.table(
      Object.fromEntries(
        runs.map((r) => [
          r.name,
          {
            'epoch s (median)': (median(r.epochMs) / 1000).toFixed(2),
            [`total s (${epochs} epochs + setup)`]: (
              (r.setupMs + r.epochMs.reduce((a, b) => a + b, 0)) /
              1000
            ).toFixed(2),
            'val loss': r.valLoss.toFixed(4),
            '× PyG 1 thread': (median(r.epochMs) / ref).toFixed(2),
          },
        ]),
      ),
    );
  }
  if (values.full)
    for (const architecture of architectures) {
      const t0 = performance.now();
      const r = await trainGnn({
        returns: aligned,
        snapshots,
        request: GnnRequest.parse({ graph_id: 'bench', architecture }),
        backend: 'wasm',
      });
      r.model.dispose();
      console.log(
        `full gnn_train, ${architecture} (defaults: up to 200 epochs, patience 15): ${((performance.now() - t0) / 1000).toFixed(1)} s, ` +
          `${r.epochs_run} epochs (best ${r.best_epoch}), ${(r.epoch_ms / 1000).toFixed(2)} s/epoch; test accuracy ` +
          `${(100 * r.metrics.accuracy).toFixed(1)}% vs mlp ${(100 * r.baselines['mlp']!.accuracy).toFixed(1)}%`,
      );
    }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
