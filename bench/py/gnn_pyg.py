"""
The reference of bench/gnn.ts: StreamForge's GNN (shared/analytics/gnn/model.ts) rebuilt in
PyTorch Geometric on the CPU and trained on the same samples, batches and epochs, so its epoch
time can be compared in the same run.

  X → Linear(hidden, tanh) = E → GraphConv | GATConv (E, edges) = G → [E ‖ G] → Linear(1) → sigmoid

- gcn: torch_geometric.nn.GraphConv(aggr="add") with each edge weight divided by the receiver's
  Σ|w| — the same function as StreamForge's GraphConv (Â·H·W + H·W_self + b).
- gat: torch_geometric.nn.GATConv(heads, concat, edge_dim=1, edge attribute |w|, self-loops) — the
  same attention and sizes; StreamForge's layer also multiplies each message by sign(w), which
  GATConv has no slot for (the cost is the same).
- Mini-batches of decision times: each batch is the disjoint union of its samples' graphs (PyG's
  usual batching, edge lists concatenated with node offsets); Adam, masked BCE, one validation pass
  per epoch (batches of 256), as fit.ts does.

stdin: JSON {"dir", "architecture", "epochs", "batch", "hidden", "heads", "lr", "seed", "threads"};
`dir` holds x.f32 [K,N,L], y.f32 [K,N], mask.f32 [K,N], graph.i32 [K], adjacency.f32 [G,N,N] and
meta.json {"K","N","L","G","train":[a,b],"validation":[a,b]}.
stdout: JSON {"epoch_seconds": [...], "setup_seconds", "val_loss", "threads"}.
"""
import json
import math
import sys
import time
import warnings

import numpy as np
import torch
from torch import nn

warnings.filterwarnings("ignore", category=FutureWarning)  # torch.jit.script, used inside PyG
from torch_geometric.nn import GATConv, GraphConv


class Net(nn.Module):
    def __init__(self, arch, lags, hidden, heads):
        super().__init__()
        self.arch = arch
        self.encoder = nn.Linear(lags, hidden)
        if arch == "gcn":
            self.graph = GraphConv(hidden, hidden, aggr="add")
            width = hidden
        else:
            per = max(1, math.ceil(hidden / heads))
            self.graph = GATConv(hidden, per, heads=heads, concat=True, edge_dim=1, add_self_loops=True)
            width = per * heads
        self.head = nn.Linear(hidden + width, 1)

    def forward(self, x, edge_index, weight):
        e = torch.tanh(self.encoder(x))
        if self.arch == "gcn":
            g = torch.relu(self.graph(e, edge_index, weight))
        else:
            g = torch.relu(self.graph(e, edge_index, weight.abs().unsqueeze(-1)))
        return torch.sigmoid(self.head(torch.cat([e, g], dim=-1))).squeeze(-1)


def main():
    a = json.load(sys.stdin)
    torch.set_num_threads(int(a["threads"]))
    torch.manual_seed(a["seed"])
    t0 = time.perf_counter()
    d = a["dir"]
    meta = json.load(open(f"{d}/meta.json"))
    k, n, lags, g = meta["K"], meta["N"], meta["L"], meta["G"]
    x = torch.from_numpy(np.fromfile(f"{d}/x.f32", dtype=np.float32).reshape(k, n, lags))
    y = torch.from_numpy(np.fromfile(f"{d}/y.f32", dtype=np.float32).reshape(k, n))
    mask = torch.from_numpy(np.fromfile(f"{d}/mask.f32", dtype=np.float32).reshape(k, n))
    graph = np.fromfile(f"{d}/graph.i32", dtype=np.int32)
    adjacency = np.fromfile(f"{d}/adjacency.f32", dtype=np.float32).reshape(g, n, n)
    # Per snapshot: its edges j → i (row i receives) and their weights, normalised for gcn.
    edges, weights = [], []
    for s in range(g):
        m = adjacency[s]
        dst, src = np.nonzero(m)
        w = m[dst, src]
        if a["architecture"] == "gcn":
            w = w / np.maximum(np.abs(m).sum(axis=1)[dst], 1e-12)
        edges.append(torch.from_numpy(np.stack([src, dst]).astype(np.int64)))
        weights.append(torch.from_numpy(w.astype(np.float32)))

    def batch(idx):
        ei = torch.cat([edges[graph[q]] + r * n for r, q in enumerate(idx)], dim=1)
        ew = torch.cat([weights[graph[q]] for q in idx])
        return x[idx].reshape(-1, lags), ei, ew, y[idx].reshape(-1), mask[idx].reshape(-1)

    model = Net(a["architecture"], lags, a["hidden"], a["heads"])
    opt = torch.optim.Adam(model.parameters(), lr=a["lr"])
    bce = nn.BCELoss(reduction="none")
    rng = np.random.default_rng(a["seed"])
    setup = time.perf_counter() - t0
    times, val_loss = [], float("nan")
    train = np.arange(*meta["train"])
    for _ in range(a["epochs"]):
        t = time.perf_counter()
        model.train()
        order = rng.permutation(train)
        for s in range(0, order.size, a["batch"]):
            xb, ei, ew, yb, mb = batch(order[s : s + a["batch"]])
            opt.zero_grad()
            p = model(xb, ei, ew).clamp(1e-7, 1 - 1e-7)
            loss = (bce(p, yb) * mb).sum() / mb.sum().clamp(min=1)
            loss.backward()
            opt.step()
        model.eval()
        total, weight = 0.0, 0.0
        with torch.no_grad():
            v0, v1 = meta["validation"]
            for s in range(v0, v1, 256):
                xb, ei, ew, yb, mb = batch(np.arange(s, min(v1, s + 256)))
                p = model(xb, ei, ew).clamp(1e-7, 1 - 1e-7)
                total += float((bce(p, yb) * mb).sum())
                weight += float(mb.sum())
        val_loss = total / max(weight, 1)
        times.append(time.perf_counter() - t)
    print(json.dumps({"epoch_seconds": times, "setup_seconds": setup, "val_loss": val_loss, "threads": a["threads"]}))


if __name__ == "__main__":
    main()
