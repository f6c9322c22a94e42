"""Side by side: the original pipeline's metric calls (igraph + scipy, main.py of github.com/eliacunegatti/mge-snn)
against ``sparsetopo.metrics.topometrics`` on the same multipartite graph, in one process, same load.

Usage::

    python benchmarks/side_by_side_metrics.py --mge-snn /path/to/mge-snn [--model resnet20] [--sparsity 0.9]
    MGE_SNN=/path/to/mge-snn python benchmarks/side_by_side_metrics.py

The original code is never a dependency: when its folder (a checkout of mge-snn, holding
``graph_encoding/numba_utils.py`` and ``main.py``) is not given or absent, the script says so and exits 0.
From it we import ``igraph_edges_to_sparse_matrix_weighted`` and ``laplacian_from_adjacency`` and take the two
eigenvalue helpers of ``main.py`` (``get_eig_values``, ``get_eig_values_laplacian``, extracted with ``ast``
because importing ``main.py`` needs its training stack); the sequence of calls below is the ``topometrics`` /
``unrolled`` branch of ``main.py`` (igraph needs no change of the graph: same nodes, edges and |w|).
Each metric is timed (wall and CPU seconds); both totals and their ratio are printed, with the load average.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _original(path: Path):
    """(numba_utils module, namespace with get_eig_values*) from a local mge-snn checkout, or None."""
    utils = path / "graph_encoding" / "numba_utils.py"
    main = path / "main.py"
    if not utils.is_file() or not main.is_file():
        return None
    spec = importlib.util.spec_from_file_location("mge_snn_numba_utils", utils)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    tree = ast.parse(main.read_text())
    wanted = [n for n in tree.body if isinstance(n, ast.FunctionDef)
              and n.name in ("get_eig_values", "get_eig_values_laplacian")]
    import scipy as sp
    import scipy.sparse.linalg  # noqa: F401  (main.py calls sp.sparse.linalg.eigsh)

    ns: dict = {"sp": sp, "np": np}
    exec(compile(ast.Module(body=wanted, type_ignores=[]), str(main), "exec"), ns)
    return mod, ns


def _timed(rows, name, fn):
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    rows.append((name, time.perf_counter() - t0, time.process_time() - c0))
    return out


def run_original(graph, utils, ns) -> list[tuple[str, float, float]]:
    """The metric calls of main.py's unrolled branch on ``graph`` (an igraph.Graph with 'weight')."""
    from scipy.sparse import csc_matrix

    rows: list[tuple[str, float, float]] = []
    g = graph
    _timed(rows, "cut_edges (bridges)", lambda: len(g.bridges()))
    _timed(rows, "cut_nodes (articulation_points)", lambda: len(g.articulation_points()))
    _timed(rows, "motifs (randesu estimate, 0.1% sample)",
           lambda: g.motifs_randesu_estimate(size=4, sample=int(0.001 * len(g.vs))))
    _timed(rows, "one_hop (neighborhood_size 1)", lambda: np.mean(g.neighborhood_size(order=1, mode="out")))
    _timed(rows, "two_hop (neighborhood_size 2)", lambda: np.mean(g.neighborhood_size(order=2, mode="out")))
    _timed(rows, "strength", lambda: np.mean(g.strength(weights="weight", mode="all")))

    def local():
        vs = g.vs
        sink = len([v.index for v in vs if v.outdegree() == 0 and v.indegree() != 0])
        source = len([v.index for v in vs if v.outdegree() != 0 and v.indegree() == 0])
        disc = len([v.index for v in vs if v.outdegree() == 0 and v.indegree() == 0])
        return sink, source, disc
    _timed(rows, "sink/source/disconnected (+r-in/r-out)", local)
    _timed(rows, "k_core (coreness)", lambda: np.mean(g.coreness(mode="all")))

    def undirected():
        u = g.as_undirected(combine_edges="first")
        u.to_directed()
        return u
    u = _timed(rows, "as_undirected + to_directed", undirected)
    _timed(rows, "components (strong on Gs)", lambda: len(u.connected_components(mode="strong")))

    def spectra():
        r, c, d = utils.igraph_edges_to_sparse_matrix_weighted(np.array(u.get_edgelist()),
                                                               np.array(u.es["weight"], dtype=np.float32), mode="ALL")
        a = csc_matrix((d, (r, c)), shape=(u.vcount(), u.vcount()))
        vals = ns["get_eig_values"](a)
        gap = vals[0] - vals[-1]
        lap = csc_matrix(utils.laplacian_from_adjacency(a))
        radius = ns["get_eig_values_laplacian"](lap)[0]
        return gap, radius
    _timed(rows, "spectral gap + radius (eigsh)", spectra)
    return rows


def to_igraph(graph):
    import igraph as ig

    g = ig.Graph(n=graph.num_nodes, edges=np.column_stack([graph.src, graph.dst]).tolist(), directed=True)
    g.es["weight"] = graph.weight.astype(np.float64).tolist()
    return g


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mge-snn", default=os.environ.get("MGE_SNN"), help="local checkout of eliacunegatti/mge-snn")
    ap.add_argument("--model", default="resnet20")
    ap.add_argument("--sparsity", type=float, default=0.9)
    ap.add_argument("--pruner", default="uniform")
    args = ap.parse_args()
    if not args.mge_snn or _original(Path(args.mge_snn)) is None:
        print(f"skipped: the original code is not available (--mge-snn / MGE_SNN = {args.mge_snn!r}); "
              "clone github.com/eliacunegatti/mge-snn into a folder outside this repository and pass its path")
        return
    utils, ns = _original(Path(args.mge_snn))
    try:
        import igraph
    except ImportError:
        print("skipped: igraph (the original pipeline's graph library) is not installed; it is no dependency of "
              "sparsetopo: pip install -e '.[compare]' and run again")
        return

    from bench_metrics import model_graph
    from sparsetopo.metrics import topometrics

    graph, label = model_graph(args.model, args.sparsity, args.pruner)
    print(f"{label}, sparsity {args.sparsity}: N={graph.num_nodes:,} E={graph.num_edges:,}; igraph {igraph.__version__}; "
          f"load average {os.getloadavg()[0]:.2f}")
    ours: list[tuple[str, float, float]] = []
    topometrics(graph)  # compiles (or loads) the numba kernels once, outside the timing
    _timed(ours, "sparsetopo topometrics() (all metrics)", lambda: topometrics(graph))
    ig_graph = _timed([], "igraph build", lambda: to_igraph(graph))
    theirs = run_original(ig_graph, utils, ns)
    print(f"\n{'original (igraph) step':42s} {'wall s':>8s} {'cpu s':>8s}")
    for name, w, c in theirs:
        print(f"{name:42s} {w:8.2f} {c:8.2f}")
    tw, tc = sum(r[1] for r in theirs), sum(r[2] for r in theirs)
    ow, oc = ours[0][1], ours[0][2]
    print(f"{'original total':42s} {tw:8.2f} {tc:8.2f}")
    print(f"{'sparsetopo topometrics() total':42s} {ow:8.2f} {oc:8.2f}")
    print(f"ratio original / sparsetopo: {tw / ow:.1f}x wall, {tc / oc:.1f}x cpu "
          f"(load average {os.getloadavg()[0]:.2f} at the end)")


if __name__ == "__main__":
    main()
