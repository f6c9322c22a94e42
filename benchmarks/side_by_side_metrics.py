"""Side by side, fairly: the original pipeline (github.com/eliacunegatti/mge-snn) against sparsetopo on the same
pruned weights, in one process, under the same load, with their values compared metric by metric.

Usage::

    python benchmarks/side_by_side_metrics.py --mge-snn /path/to/mge-snn [--models resnet20 ...]
        [--sparsities 0.9 ...] [--repeats 3]

Needs igraph (the original's graph library; no dependency of sparsetopo: ``pip install -e '.[compare]'``, or a
separate venv that sees the project's packages). Without the checkout or igraph the script says so and exits 0.

What is timed, per graph and per repeat (wall and CPU seconds of every step; ``gc.collect()`` before each step of
either side, outside the timing):

- build: sparsetopo's ``multipartite(net)`` against the original's ``Unrolled_GE`` + ``get_multipartite_graph``
  on a copy of the same weights (its model classes, weights copied layer by layer);
- metrics, same graph: ``topometrics`` (every step of ``evaluate``) against the calls of the topometrics /
  unrolled branch of the original's ``main.py`` (the five local-connectivity scans included) on sparsetopo's
  graph converted to igraph (conversion untimed); these values are compared;
- end to end: each side's build plus its metrics on its own graph, so the original's metrics run a second time
  on the graph its encoder built (it differs: stride-2 misalignment, padding nodes, float16 weights; see
  docs/deviations.md).

Memory: the original holds its graph as igraph objects and Python lists. On ResNet-20 at sparsity 0.6 (1.5e7
edges) an earlier order of this script, which kept both igraph copies alive, reached 9 GB before the kernel
stopped it on a shared machine; now at most one copy is alive at a time.

Fairness: before any timing, both sides run their whole pipeline once on a small graph (ResNet-20 at 3x8x8): that
compiles every numba kernel of each side (the original's ``@jit`` kernels are not cached on disk, so its first
call in a process pays seconds of compilation) and makes the first calls of igraph, scipy and numpy. Each
repeat times the two sides back to back; ratios are printed per repeat and as their range, with the load
averages. Both sides use the machine's cores as they do in their own runs.

Values, compared on the same graph (``RULES``; exit status 1 when one differs beyond its rule):

- exact: sizes, structure counts (cut edges and nodes, components, disconnected nodes);
- floating-point: means and sums (hop sizes, strength, k-core, mean component size) within 1e-9 relative;
- spectral: within the eigensolver's documented tolerance, ``SPECTRAL_TOL`` times the spectral scale, per
  eigenvalue (the gap is a difference of two: twice that);
- the original's formula: sink / source counts and r-in / r-out must equal ``main.py``'s own formulas applied to
  the same graph's degrees (they subtract whole input / output parts and skip one node: deviations.md, "Other
  defects"); sparsetopo's value and the difference are printed beside them;
- not tested: ``motifs4``, which the original estimates from a 0.1 % vertex sample without an error bar
  (measured error 5-15 %, deviations.md); both values and their relative difference are printed.
"""

from __future__ import annotations

import argparse
import ast
import gc
import importlib.util
import os
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

MODELS = ("conv6", "resnet20", "resnet32", "wrn28_2")
WARM_UP = ("resnet20", 0.9, (3, 8, 8))
EXACT, FLOAT, SPECTRAL, FORMULA, SHOWN = "exact", "float 1e-9", "spectral", "original's formula", "not tested"
RULES = {"nodes": EXACT, "edges": EXACT, "sink_nodes": FORMULA, "source_nodes": FORMULA,
         "disconnected_nodes": EXACT, "removable_out_edges": FORMULA, "removable_in_edges": FORMULA,
         "one_hop": FLOAT, "two_hop": FLOAT, "motifs4": SHOWN, "strength": FLOAT, "k_core": FLOAT,
         "cut_edges": EXACT, "cut_nodes": EXACT, "components": EXACT, "mean_component_size": FLOAT,
         "spectral_gap_paper": SPECTRAL, "spectral_radius": SPECTRAL}


def load_original(path: Path):
    """(numba_utils, encoder functions, main.py's eigenvalue helpers) of an mge-snn checkout, or None if absent."""
    utils, main = path / "graph_encoding" / "numba_utils.py", path / "main.py"
    if not utils.is_file() or not main.is_file():
        return None
    sys.path.insert(0, str(path))  # its modules import each other as models.*, graph_encoding.*
    spec = importlib.util.spec_from_file_location("mge_snn_numba_utils", utils)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    from graph_encoding.graph_encoding import Unrolled_GE
    from multipartite_encoding import get_multipartite_graph

    # main.py needs its training stack to import: take its two eigenvalue helpers only
    tree = ast.parse(main.read_text())
    wanted = [n for n in tree.body if isinstance(n, ast.FunctionDef)
              and n.name in ("get_eig_values", "get_eig_values_laplacian")]
    import scipy as sp
    import scipy.sparse.linalg  # noqa: F401  (main.py calls sp.sparse.linalg.eigsh)

    ns: dict = {"sp": sp, "np": np}
    exec(compile(ast.Module(body=wanted, type_ignores=[]), str(main), "exec"), ns)
    ns.update(utils=mod, Unrolled_GE=Unrolled_GE, get_multipartite_graph=get_multipartite_graph)
    return ns


def original_model(name: str, classes: int):
    """The original's own model class for ``name`` (untrained; weights are copied in)."""
    if name == "conv6":
        from models.models import Conv6
        return Conv6(3, classes)
    if name in ("resnet20", "resnet32"):
        import models.resnet as resnet
        return getattr(resnet, name)(classes)
    from models.wide_resnet import WideResNet
    return WideResNet(28, classes, 2)


def copy_weights(net, other) -> None:
    """Copy every conv / linear weight of ``net`` into ``other`` (same layers in the same module order)."""
    import torch

    def layers(m):
        return [x for x in m.modules() if isinstance(x, (torch.nn.Conv2d, torch.nn.Linear))]
    a, b = layers(net), layers(other)
    if [x.weight.shape for x in a] != [x.weight.shape for x in b]:
        raise SystemExit("the original's model has other layers than sparsetopo's: cannot copy the weights")
    with torch.no_grad():
        for x, y in zip(a, b):
            y.weight.copy_(x.weight)


class Steps:
    """Times steps alike on both sides: ``gc.collect()`` first (untimed), then wall and CPU seconds."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, float, float]] = []

    def __call__(self, label, fn):
        gc.collect()
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        self.rows.append((label, time.perf_counter() - t0, time.process_time() - c0))
        return out

    def total(self) -> tuple[float, float]:
        return sum(r[1] for r in self.rows), sum(r[2] for r in self.rows)


def original_metrics(g, dims, orig, step, seed: int = 0) -> dict[str, float]:
    """The calls of main.py's topometrics / unrolled branch on igraph graph ``g`` (``dims``: its part sizes)."""
    from scipy.sparse import csc_matrix

    random.seed(seed)  # igraph draws from Python's random module; main.py seeds it with the run's seed
    v: dict[str, float] = {"nodes": g.vcount(), "edges": g.ecount()}
    v["cut_edges"] = step("cut-edges (bridges)", lambda: len(g.bridges()))
    v["cut_nodes"] = step("cut-nodes (articulation_points)", lambda: len(g.articulation_points()))
    v["motifs4"] = step("motifs (randesu estimate, 0.1 % of nodes)",
                        lambda: g.motifs_randesu_estimate(size=4, sample=int(0.001 * len(g.vs))))
    v["one_hop"] = step("1-hop (neighborhood_size 1)", lambda: np.mean(g.neighborhood_size(order=1, mode="out")))
    v["two_hop"] = step("2-hop (neighborhood_size 2)", lambda: np.mean(g.neighborhood_size(order=2, mode="out")))
    v["strength"] = step("strength", lambda: np.mean(g.strength(weights="weight", mode="all")))

    def local():  # main.py's five scans over the vertices, as written there
        vs, n = g.vs, g.vcount()
        return {"sink_nodes": len([x.index for x in vs if x.outdegree() == 0 and x.indegree() != 0]) - dims[-1],
                "source_nodes": len([x.index for x in vs if x.outdegree() != 0 and x.indegree() == 0]) - dims[0],
                "disconnected_nodes": len([x.index for x in vs if x.outdegree() == 0 and x.indegree() == 0]),
                "removable_out_edges": sum([x.indegree() for x in vs if x.outdegree() == 0 and x.indegree() != 0
                                            and x.index < int(n - 1) - dims[-1]]),
                "removable_in_edges": sum([x.outdegree() for x in vs if x.outdegree() != 0 and x.indegree() == 0
                                           and x.index > dims[0]])}
    v.update(step("sink, source, disconnected, r-out, r-in", local))
    v["k_core"] = step("k-core (coreness)", lambda: np.mean(g.coreness(mode="all")))

    def undirected():
        u = g.as_undirected(combine_edges="first")
        u.to_directed()
        return u
    u = step("as_undirected + to_directed", undirected)

    def components():
        cc = u.connected_components(mode="strong")
        return {"components": len(cc), "mean_component_size": np.mean([len(c) for c in cc])}
    v.update(step("connected components", components))

    def spectra():
        utils = orig["utils"]
        r, c, d = utils.igraph_edges_to_sparse_matrix_weighted(
            np.array(u.get_edgelist()), np.array(u.es["weight"], dtype=np.float32), mode="ALL")
        a = csc_matrix((d, (r, c)), shape=(u.vcount(), u.vcount()))
        vals = orig["get_eig_values"](a)
        lap = csc_matrix(utils.laplacian_from_adjacency(a))
        return {"spectral_gap_paper": vals[0] - vals[-1], "spectral_radius": orig["get_eig_values_laplacian"](lap)[0],
                "adjacency_scale": vals[0]}
    v.update(step("spectral gap, spectral radius (eigsh)", spectra))
    return {k: float(x) for k, x in v.items()}


def original_formulas(graph) -> dict[str, int]:
    """main.py's sink, source, r-out and r-in formulas evaluated with numpy on ``graph``'s degrees."""
    n, first, last = graph.num_nodes, int(graph.part_sizes[0]), int(graph.part_sizes[-1])
    out_deg = np.bincount(graph.src, minlength=n)
    in_deg = np.bincount(graph.dst, minlength=n)
    index = np.arange(n)
    sink, source = (out_deg == 0) & (in_deg > 0), (out_deg > 0) & (in_deg == 0)
    return {"sink_nodes": int(sink.sum()) - last, "source_nodes": int(source.sum()) - first,
            "removable_out_edges": int(in_deg[sink & (index < n - 1 - last)].sum()),
            "removable_in_edges": int(out_deg[source & (index > first)].sum())}


def compare(theirs: dict, ours: dict, formulas: dict, tol: float) -> list[tuple[str, float, float, str, bool]]:
    """(metric, original, sparsetopo, rule, ok) for every metric of ``RULES``; ``tol``: the spectral tolerance."""
    rows = []
    for name, rule in RULES.items():
        o, s = theirs[name], ours[name]
        if rule == EXACT:
            ok = o == s
        elif rule == FLOAT:
            ok = abs(o - s) <= 1e-9 * max(abs(o), abs(s), 1e-300)
        elif rule == SPECTRAL:
            scale = theirs["adjacency_scale"] if name == "spectral_gap_paper" else abs(o)
            ok = abs(o - s) <= (2 if name == "spectral_gap_paper" else 1) * tol * scale
        elif rule == FORMULA:
            ok = o == formulas[name]
        else:
            ok = True
        rows.append((name, o, s, rule, bool(ok)))
    return rows


def to_igraph(graph):
    """``graph`` as the directed igraph.Graph the original's metric code reads (edge attribute 'weight')."""
    import igraph as ig

    g = ig.Graph(n=graph.num_nodes, edges=np.column_stack([graph.src, graph.dst]), directed=True)
    g.es["weight"] = graph.weight.astype(np.float64).tolist()
    return g


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def run_once(model, net, shape, orig, seed):
    """One repeat: both builds, both metric runs; (graph, sparsetopo values, original values on both graphs, times).

    Order: sparsetopo's build and metrics, the original's metrics on that graph, then the original's build and its
    metrics on its own graph, so that at most one igraph copy is alive at a time.
    """
    from sparsetopo.encodings import multipartite
    from sparsetopo.metrics.context import evaluate

    build, ours, theirs, theirs_own = Steps(), Steps(), Steps(), Steps()
    graph = build("sparsetopo: multipartite()", lambda: multipartite(net, shape))
    values = evaluate(graph, "multipartite", seed, step=ours)
    same = to_igraph(graph)
    theirs_values = original_metrics(same, list(graph.part_sizes), orig, theirs, seed)
    del same
    theirs_net = original_model(model, 10)
    copy_weights(net, theirs_net)
    encoder = orig["Unrolled_GE"]
    own, dims = build("original: Unrolled_GE + get_multipartite_graph",
                      lambda: orig["get_multipartite_graph"](encoder(model=theirs_net, input_size=shape[-1])))
    del theirs_net
    own_values = original_metrics(own, dims, orig, theirs_own, seed)
    del own
    return graph, values, theirs_values, own_values, {"build": build.rows, "ours": ours.rows,
                                                      "theirs": theirs.rows, "theirs_own": theirs_own.rows}


def warm_up(orig) -> None:
    """Both whole pipelines once on a small graph: every kernel compiled and every library's first call made."""
    import bench_metrics

    bench_metrics.warm_up()  # sparsetopo's numba kernels (exact and estimated motifs)
    orig["utils"].load_numba()  # the original's own warm-up, as main.py calls it
    model, sparsity, shape = WARM_UP
    net, shape = bench_metrics.pruned_model(model, sparsity, shape=shape)
    run_once(model, net, shape, orig, 0)  # also compiles the original's encoder kernel (optimize_cnn)


def _table(title, rows_per_repeat) -> None:
    """Median over the repeats of each step's wall and CPU seconds."""
    print(f"\n{title:52s} {'wall s':>8s} {'cpu s':>8s}   (median of {len(rows_per_repeat)})")
    for i, (label, _, _) in enumerate(rows_per_repeat[0]):
        w = statistics.median(r[i][1] for r in rows_per_repeat)
        c = statistics.median(r[i][2] for r in rows_per_repeat)
        print(f"{label[:52]:52s} {w:8.2f} {c:8.2f}")


def bench_graph(model: str, sparsity: float, args, orig) -> bool:
    """All repeats on one graph; prints timings, ratios and the value comparison; True if the values agree."""
    import bench_metrics
    from sparsetopo.metrics.spectral import SPECTRAL_TOL

    net, shape = bench_metrics.pruned_model(model, sparsity, args.pruner, args.seed)
    print(f"\n## {model} {args.pruner} {'x'.join(map(str, shape))}, sparsity {sparsity}; load average {_load()}")
    runs = []
    for r in range(args.repeats):
        graph, ours, theirs, own, t = run_once(model, net, shape, orig, args.seed)
        ok = compare(theirs, ours, original_formulas(graph), SPECTRAL_TOL)
        runs.append((t, ok, _load()))
        if r == 0:
            print(f"sparsetopo graph N={graph.num_nodes:,} E={graph.num_edges:,}; "
                  f"the original's own graph N={int(own['nodes']):,} E={int(own['edges']):,}")
    _table("sparsetopo step (same graph)", [t["ours"] for t, _, _ in runs])
    _table("original step (same graph)", [t["theirs"] for t, _, _ in runs])
    _table("original step (its own graph)", [t["theirs_own"] for t, _, _ in runs])
    print(f"\n{'':26s} {'original':>17s} {'sparsetopo':>17s} {'original / sparsetopo':>22s}")
    print(f"{'repeat, part':26s} {'wall s':>8s} {'cpu s':>8s} {'wall s':>8s} {'cpu s':>8s} {'wall':>10s} {'cpu':>10s}"
          "   load average")
    ratios: dict[str, list[tuple[float, float]]] = {}
    for i, (t, _, load) in enumerate(runs, 1):
        b_ours, b_theirs = t["build"][0][1:], t["build"][1][1:]
        m_ours, m_theirs, m_own = Steps(), Steps(), Steps()
        m_ours.rows, m_theirs.rows, m_own.rows = t["ours"], t["theirs"], t["theirs_own"]
        parts = {"build": (b_theirs, b_ours), "metrics (same graph)": (m_theirs.total(), m_ours.total()),
                 "end to end (own graphs)": (tuple(a + b for a, b in zip(b_theirs, m_own.total())),
                                             tuple(a + b for a, b in zip(b_ours, m_ours.total())))}
        for name, ((tw, tc), (ow, oc)) in parts.items():
            ratios.setdefault(name, []).append((tw / ow, tc / oc))
            print(f"{f'{i}, {name}':26s} {tw:8.2f} {tc:8.2f} {ow:8.2f} {oc:8.2f} {tw / ow:9.1f}x {tc / oc:9.1f}x   "
                  f"{load if name == 'build' else ''}")
    for name, rs in ratios.items():
        w, c = [x[0] for x in rs], [x[1] for x in rs]
        print(f"ratio {name}: {min(w):.1f}-{max(w):.1f}x wall, {min(c):.1f}-{max(c):.1f}x cpu "
              f"over {len(rs)} repeat(s)")
    return _print_values(runs, own)


def _print_values(runs, own) -> bool:
    rows = runs[-1][1]
    bad = sorted({name for _, ok, _ in runs for name, _, _, _, good in ok if not good})
    print(f"\n{'metric':20s} {'original':>15s} {'sparsetopo':>15s} {'rule':>18s} {'verdict':>7s} "
          f"{'original, own graph':>19s}   same graph: original - sparsetopo")
    for name, o, s, rule, good in rows:
        verdict = "DIFFERS" if name in bad else ("shown" if rule == SHOWN else "ok")
        diff = f"{(o - s) / s:+.2%}" if rule == SHOWN and s else (f"{o - s:+g}" if o != s else "")
        print(f"{name:20s} {o:15.10g} {s:15.10g} {rule:>18s} {verdict:>7s} {own[name]:19.10g}   {diff}")
    print("values on the same graph (every repeat checked): "
          + ("all agree within their rules" if not bad else "DIFFER: " + ", ".join(bad)))
    return not bad


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mge-snn", default=os.environ.get("MGE_SNN"), help="local checkout of eliacunegatti/mge-snn")
    ap.add_argument("--models", nargs="+", default=["resnet20"], choices=MODELS)
    ap.add_argument("--sparsities", type=float, nargs="+", default=[0.9])
    ap.add_argument("--pruner", default="uniform")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=3, help="timed repeats per graph (ratios: their range)")
    args = ap.parse_args(argv)
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)  # progress shows in a log file as it comes
    if args.repeats < 1 or not all(0 <= s < 1 for s in args.sparsities):
        ap.error("--repeats must be >= 1 and every sparsity in [0, 1)")
    found = args.mge_snn and (Path(args.mge_snn) / "graph_encoding" / "numba_utils.py").is_file()
    if not found:
        print(f"skipped: the original code is not available (--mge-snn / MGE_SNN = {args.mge_snn!r}); clone "
              "github.com/eliacunegatti/mge-snn into a folder outside this repository and pass its path")
        return 0
    try:
        import igraph
    except ImportError:
        print("skipped: igraph (the original pipeline's graph library) is not installed; it is no dependency of "
              "sparsetopo: pip install -e '.[compare]' and run again")
        return 0
    orig = load_original(Path(args.mge_snn))
    print(f"igraph {igraph.__version__}; warming up both pipelines on {WARM_UP[0]} at {WARM_UP[1]}, "
          f"{'x'.join(map(str, WARM_UP[2]))}; load average {_load()}")
    warm_up(orig)
    agree = [bench_graph(m, s, args, orig) for m in args.models for s in args.sparsities]
    print(f"\nload average at the end {_load()}")
    return 0 if all(agree) else 1


if __name__ == "__main__":
    sys.exit(main())
