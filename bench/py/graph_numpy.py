"""
The reference of bench/graph.ts: the same graph snapshots written the way a researcher would in
NumPy/SciPy (vectorised matrix products, LAPACK inverse), timed in the same run as StreamForge's
builder on the same returns.

Per snapshot (window of W returns ending at e, every S bars from e = W): vertex mean and
volatility; Pearson (np.corrcoef), Spearman (Pearson of ranks), lead-lag (corr of r_i[k] with
r_j[k+lag], lags 1..L, best |r|, Bonferroni over the lags), partial correlation (ridge precision
matrix); Fisher-z p-values; Benjamini-Hochberg per method; then the top-k strongest edges per
vertex. The returns are complete (no missing bars), so no pairwise-complete bookkeeping is needed
here; StreamForge's builder does that work in any case.

stdin: JSON {"path", "symbols", "bars", "window", "step", "max_lag", "alpha", "top_k"}; the file
holds float64 returns, row-major [symbols, bars]. stdout: JSON {"seconds", "snapshots", "edges"}.
"""
import json
import sys
import time

import numpy as np
from scipy.special import erfc

RIDGE = 1e-6


def fisher_p(r, n, k=0):
    dof = n - 3 - k
    z = np.arctanh(np.minimum(1.0, np.abs(r))) * np.sqrt(dof)
    return np.minimum(1.0, erfc(z / np.sqrt(2.0)))


def bh(p, alpha):
    m = p.size
    order = np.argsort(p, kind="stable")
    ok = p[order] <= (np.arange(1, m + 1) * alpha / m)
    keep = np.zeros(m, dtype=bool)
    if ok.any():
        cut = np.nonzero(ok)[0][-1] + 1
        keep[order[:cut]] = True
    return keep


def select(src, dst, r, p, n_vertices, alpha, top_k):
    kept = np.nonzero(bh(p, alpha))[0]
    if top_k == 0 or kept.size == 0:
        return kept
    keep = np.zeros(r.size, dtype=bool)
    for v in range(n_vertices):
        mine = kept[(src[kept] == v) | (dst[kept] == v)]
        if mine.size:
            s = np.abs(r[mine])
            keep[mine[np.argsort(-s, kind="stable")[:top_k]]] = True
    return kept[keep[kept]]


def main():
    a = json.load(sys.stdin)
    n, bars, w, step, lags = a["symbols"], a["bars"], a["window"], a["step"], a["max_lag"]
    returns = np.fromfile(a["path"], dtype=np.float64).reshape(n, bars)
    iu, ju = np.triu_indices(n, 1)
    off = ~np.eye(n, dtype=bool)
    si, sj = np.nonzero(off)
    t0 = time.perf_counter()
    snapshots = 0
    edges = {"pearson": 0, "spearman": 0, "lead_lag": 0, "partial": 0}
    for e in range(w, bars, step):
        x = returns[:, e - w + 1 : e + 1]
        mean = x.mean(axis=1)
        vol = x.std(axis=1, ddof=1)
        del mean, vol
        c = np.corrcoef(x)
        ranks = x.argsort(axis=1).argsort(axis=1).astype(np.float64)
        sp = np.corrcoef(ranks)
        best = np.zeros((n, n))
        best_lag = np.zeros((n, n), dtype=np.int64)
        for lag in range(1, lags + 1):
            lead, follow = x[:, : w - lag], x[:, lag:]
            lz = (lead - lead.mean(1, keepdims=True)) / lead.std(1, keepdims=True)
            fz = (follow - follow.mean(1, keepdims=True)) / follow.std(1, keepdims=True)
            m = lz @ fz.T / (w - lag)
            better = np.abs(m) > np.abs(best)
            best = np.where(better, m, best)
            best_lag = np.where(better, lag, best_lag)
        lam = RIDGE * np.trace(c) / n
        prec = np.linalg.inv(c + lam * np.eye(n))
        d = np.sqrt(np.diag(prec))
        pc = -prec / np.outer(d, d)
        for name, r, p, src, dst in (
            ("pearson", c[iu, ju], fisher_p(c[iu, ju], w), iu, ju),
            ("spearman", sp[iu, ju], fisher_p(sp[iu, ju], w), iu, ju),
            ("lead_lag", best[si, sj], np.minimum(1.0, fisher_p(best[si, sj], w - best_lag[si, sj]) * lags), si, sj),
            ("partial", pc[iu, ju], fisher_p(pc[iu, ju], w, n - 2), iu, ju),
        ):
            edges[name] += select(src, dst, r, p, n, a["alpha"], a["top_k"]).size
        snapshots += 1
    print(json.dumps({"seconds": time.perf_counter() - t0, "snapshots": snapshots, "edges": edges}))


if __name__ == "__main__":
    main()
