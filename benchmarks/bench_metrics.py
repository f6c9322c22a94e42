"""Benchmark: seconds (wall and CPU), peak memory and scaling of every topometric step on multipartite graphs.

Usage::

    python benchmarks/bench_metrics.py                                  # ResNet-20 and WRN-28-2 at 0.9
    python benchmarks/bench_metrics.py --models resnet50 --sparsities 0.99
    python benchmarks/bench_metrics.py --sweep                          # ResNet-50, 0.999 -> 0.9: exponents
    python benchmarks/bench_metrics.py --before 4738839                 # also the code of that revision

Graphs: the MGE of the project's models (``resnet20``, ``resnet32``, ``conv6``, ``wrn28_2`` at 3x32x32 and 10
classes; torchvision ``resnet50`` at 3x224x224 and 1000 classes), pruned at initialisation by ``--pruner``
(uniform), weights Kaiming-normal, seed 0. ``--cache DIR`` keeps built graphs as .npz for the next run.

Each step of ``sparsetopo.metrics.topometrics`` (every intermediate build and every metric group) is run
through the ``step`` hook of ``evaluate``: wall seconds, CPU seconds (``time.process_time``, both cores count),
and the rise of the process's peak RSS above the step's start (VmHWM reset through /proc/self/clear_refs; run
under MALLOC_MMAP_THRESHOLD_=1 MiB so that freed arrays go back to the OS). The row ``sum of the steps`` is the
sum of the rows above it; ``gc.collect()`` runs before every step outside its timing, and its seconds are
printed on their own line beside the wall time of the whole ``evaluate`` call. ``peak B/edge`` is the process's
absolute peak RSS (graph build included) over the edge count. ``--sweep`` fits, per step, the exponent b of
seconds = a·E^b by least squares on log-log over the sparsities; graphs whose estimated memory exceeds
MemAvailable are skipped with a message. ``--before REV`` extracts ``src/sparsetopo`` of git revision REV into a
temporary folder and times its ``topometrics`` (and, for the revision before the registry, its steps) on the
same graph. The numba kernels are compiled (or loaded from the cache) by a warm-up on a small graph first. The
load averages (1, 5, 15 minutes) are printed: other jobs share the cores, so absolute seconds depend on them.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from procstat import reset_peak, status

ROOT = Path(__file__).resolve().parents[1]
SHAPES = {"resnet20": ((3, 32, 32), 10), "resnet32": ((3, 32, 32), 10), "conv6": ((3, 32, 32), 10),
          "wrn28_2": ((3, 32, 32), 10), "resnet50": ((3, 224, 224), 1000),
          "resnet18": ((3, 224, 224), 1000), "mobilenet_v2": ((3, 224, 224), 1000)}


_PEAK = [0.0]  # the largest VmHWM seen before any reset: the process's absolute peak RSS


def _note_peak() -> None:
    _PEAK[0] = max(_PEAK[0], status("VmHWM"))


def process_peak() -> float:
    """The process's peak RSS in bytes since it started (resets of VmHWM by ``measure`` accounted for)."""
    _note_peak()
    return _PEAK[0]


def mem_available() -> float:
    """MemAvailable of /proc/meminfo in bytes (free memory plus what the kernel can reclaim: page cache)."""
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024.0
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def measure(fn, collect: bool = True):
    """(result, wall s, cpu s, peak RSS rise in bytes) of ``fn()``; ``gc.collect()`` first, outside the timing."""
    if collect:
        gc.collect()
    _note_peak()
    reset_peak()
    base = status("VmRSS")
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    hwm = status("VmHWM")
    _PEAK[0] = max(_PEAK[0], hwm)
    return out, wall, cpu, max(hwm - base, 0.0)


def pruned_model(model: str, sparsity: float, pruner: str = "uniform", seed: int = 0, shape=None):
    """(network, input shape): a model of ``SHAPES`` (or at ``shape``), Kaiming-normal, pruned at init by ``pruner``."""
    import torch

    from sparsetopo.models import build_model
    from sparsetopo.pruning import PruneContext, apply_masks, run_pruner

    default, classes = SHAPES[model]
    shape = tuple(shape or default)
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    net = build_model(model, shape, classes)
    ctx = PruneContext(model=net, sparsity=sparsity, seed=seed, input_shape=shape, num_classes=classes)
    masks = run_pruner(pruner, ctx)  # outside no_grad: SynFlow differentiates
    with torch.no_grad():
        apply_masks(net, masks)
    return net, shape


def model_graph(model: str, sparsity: float, pruner: str = "uniform", seed: int = 0, cache: str | None = None):
    """(multipartite Graph, label, (wall, cpu) s of ``multipartite()`` or None if loaded) of a pruned model at its
    benchmark input shape (cached as .npz if asked)."""
    shape, _ = SHAPES[model]
    label = f"MGE {model} {pruner} {'x'.join(map(str, shape))}"
    path = Path(cache) / f"{model}_{pruner}_{sparsity}_{seed}.npz" if cache else None
    if path is not None and path.exists():
        from sparsetopo.graph import load_graphs

        return load_graphs(path)[2][0], label, None
    from sparsetopo.encodings import multipartite

    net, shape = pruned_model(model, sparsity, pruner, seed)
    graph, wall, cpu, _ = measure(lambda: multipartite(net, shape))
    del net
    if path is not None:
        from sparsetopo.graph import save_graphs

        path.parent.mkdir(parents=True, exist_ok=True)
        save_graphs(path, [graph], "multipartite", {"model": model, "sparsity": sparsity})
    return graph, label, (wall, cpu)


def warm_up() -> None:
    """Compile (or load) every numba kernel on a small graph, so that timings exclude compilation."""
    from sparsetopo.graph import Graph
    from sparsetopo.metrics import layer_metrics, topometrics

    rng = np.random.default_rng(0)
    src = rng.integers(0, 300, 4000)
    dst = 300 + rng.integers(0, 400, 4000)
    g = Graph(src=src, dst=dst, weight=rng.random(4000), part_offsets=[0, 300, 700], part_names=["a", "b"],
              part_shapes=[(300,), (400,)], meta={"density": 0.1})
    for mode in ("exact", "estimate"):
        topometrics(g, motifs4=mode)
        layer_metrics(g, motifs4=mode)


def bench_steps(graph, seed: int = 0) -> tuple[list[tuple[str, float, float, float]], dict, dict]:
    """Per-step (label, wall, cpu, peak rise) of topometrics on ``graph``, their sum, the result and the overheads.

    The last row, ``sum of the steps``, adds the steps' wall and CPU seconds; its peak is the rise of the
    process's peak RSS over the whole call. ``gc.collect()`` runs before every step, outside the step's timing;
    the third value gives its seconds (``gc``) and the wall seconds of the whole ``evaluate`` call (``call``,
    which includes them), so that nothing is hidden in the total.
    """
    from sparsetopo.metrics.context import evaluate

    rows = []
    gc_wall = [0.0]
    top = [0.0]

    def step(label, thunk):
        t0 = time.perf_counter()
        gc.collect()
        gc_wall[0] += time.perf_counter() - t0
        out, wall, cpu, mem = measure(thunk, collect=False)
        top[0] = max(top[0], status("VmHWM"))
        rows.append((label, wall, cpu, mem))
        return out

    gc.collect()
    _note_peak()
    reset_peak()
    base = status("VmRSS")
    t0 = time.perf_counter()
    result = evaluate(graph, "multipartite", seed, step=step)
    call = time.perf_counter() - t0
    rows.append(("sum of the steps", sum(r[1] for r in rows), sum(r[2] for r in rows), max(top[0] - base, 0.0)))
    return rows, result, {"gc": gc_wall[0], "call": call}


def load_revision(rev: str):
    """The ``sparsetopo`` package of git revision ``rev`` imported as ``sparsetopo_<rev>``."""
    name = f"sparsetopo_{rev}"
    tmp = Path(tempfile.mkdtemp(prefix="sparsetopo-before-"))
    tar = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "src/sparsetopo"], check=True,
                         capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tmp)], input=tar, check=True)
    (tmp / "src" / "sparsetopo").rename(tmp / name)
    sys.path.insert(0, str(tmp))
    return importlib.import_module(f"{name}.metrics")


def bench_before(mod, graph, seed: int = 0) -> list[tuple[str, float, float, float]]:
    """Steps of the pre-registry implementation (revision 4738839 and its peers), then its total."""
    rows = []
    names = {m for m in dir(mod)}
    if "topometrics" not in names:
        raise SystemExit("the revision has no sparsetopo.metrics.topometrics")
    pkg = mod.__name__
    try:
        c = importlib.import_module(f"{pkg}._common")
        tm = importlib.import_module(f"{pkg}.topo")
        mc = importlib.import_module(f"{pkg}.motifs").motif_counts
        n = graph.num_nodes

        def step(label, fn):
            out, wall, cpu, mem = measure(fn)
            rows.append((label, wall, cpu, mem))
            return out
        w = step("build W (directed CSR)", lambda: c.directed_csr(graph.src, graph.dst, graph.weight, n))
        step("one_hop, two_hop", lambda: tm._hop_sizes(w))
        a = step("build A = W + W^T", lambda: c.symmetric_csr(w))
        del w
        step("components", lambda: c.components(a))
        step("k_core", lambda: c.core_numbers(a.indptr, a.indices))
        step("motifs", lambda: mc(a, part_id=tm._part_ids(graph), seed=seed))
        step("cut_edges, cut_nodes", lambda: c.bridges_and_articulation(a))
        step("spectral", lambda: c.spectral_metrics(a, seed))
        del a
    except (ImportError, AttributeError) as exc:
        print(f"(per-step timing of the revision unavailable: {exc})")
    out, wall, cpu, mem = measure(lambda: mod.topometrics(graph, seed=seed))
    rows.append(("topometrics() (one call, no step hook)", wall, cpu, mem))
    bench_before.last = out
    return rows


def _load() -> str:
    """The 1-, 5- and 15-minute load averages."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def print_rows(rows, edges: int) -> None:
    print(f"{'step':58s} {'wall s':>8s} {'cpu s':>8s} {'peak MB':>8s} {'B/edge':>7s}")
    for label, wall, cpu, mem in rows:
        print(f"{label[:58]:58s} {wall:8.2f} {cpu:8.2f} {mem / 2**20:8.1f} {mem / max(edges, 1):7.1f}")


def run_one(model: str, sparsity: float, args) -> tuple[int, list]:
    (graph, label, encode), wall, cpu, _ = measure(lambda: model_graph(model, sparsity, args.pruner,
                                                                      cache=args.cache))
    e = graph.num_edges
    encoded = f"; multipartite() {encode[0]:.2f} s wall, {encode[1]:.2f} s cpu" if encode else " (from the cache)"
    print(f"\n## {label}, sparsity {sparsity}: N={graph.num_nodes:,} E={e:,}; model, pruning and encoding "
          f"{wall:.1f} s wall, {cpu:.1f} s cpu{encoded}; load average {_load()}")
    rows, result, extra = bench_steps(graph)
    print_rows(rows, e)
    peak = process_peak()
    print(f"not in the sum: gc.collect() before each step {extra['gc']:.2f} s wall; the evaluate() call with them "
          f"took {extra['call']:.2f} s wall")
    print(f"process peak RSS {peak / 2**30:.2f} GiB = {peak / e:.1f} B/edge (graph build included); "
          f"load average {_load()}")
    print("values: " + ", ".join(f"{k}={v:.6g}" for k, v in result.items()))
    if args.before:
        mod = load_revision(args.before)
        print(f"\n-- revision {args.before} on the same graph --")
        before = bench_before(mod, graph)
        print_rows(before, e)
        old = bench_before.last
        diffs = {k: (result[k], old[k]) for k in old if k in result and result[k] != old[k]}
        print("differences (new vs before): " + (", ".join(f"{k}: {a:.8g} vs {b:.8g}" for k, (a, b) in diffs.items())
                                                  or "none"))
    return e, rows


def main() -> None:
    if "MALLOC_MMAP_THRESHOLD_" not in os.environ:
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, "MALLOC_MMAP_THRESHOLD_": "1048576"})
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["resnet20", "wrn28_2"])
    ap.add_argument("--sparsities", type=float, nargs="+", default=[0.9])
    ap.add_argument("--pruner", default="uniform")
    ap.add_argument("--sweep", action="store_true",
                    help="ResNet-50 at 0.999 0.995 0.99 0.98 0.95 0.9 (or --sparsities); exponents")
    ap.add_argument("--before", help="git revision whose topometrics to time on the same graphs")
    ap.add_argument("--cache", help="folder for built graphs (.npz)")
    args = ap.parse_args()
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)  # progress shows in a log file as it comes
    warm_up()
    if args.sweep:
        explicit = any(a.startswith("--sparsities") for a in sys.argv[1:])
        args.models = ["resnet50"]
        args.sparsities = args.sparsities if explicit else [0.999, 0.995, 0.99, 0.98, 0.95, 0.9]
    series: dict[str, list[tuple[int, float, float]]] = {}
    for model in args.models:
        for s in args.sparsities:
            if model == "resnet50" and s <= 0.95:
                available = mem_available() / 2**30
                need = 40 * (1 - s) * 4.5e9 / 2**30
                if available < need:
                    print(f"\n## skipped {model} at {s}: {available:.1f} GiB available (MemAvailable), "
                          f"about {need:.0f} GiB needed")
                    continue
            e, rows = run_one(model, s, args)
            for label, wall, cpu, _ in rows:
                series.setdefault(label, []).append((e, wall, cpu))
            gc.collect()
    if len({e for v in series.values() for e, _, _ in v}) >= 3:
        print(f"\n## scaling: seconds = a * E^b (least squares on log-log over {len(args.sparsities)} graphs)")
        print(f"{'step':58s} {'b (wall)':>9s} {'b (cpu)':>8s}")
        for label, pts in series.items():
            pts = [p for p in pts if p[1] > 0 and p[2] > 0]
            if len(pts) < 3:
                continue
            x = np.log([p[0] for p in pts])
            bw = np.polyfit(x, np.log([p[1] for p in pts]), 1)[0]
            bc = np.polyfit(x, np.log([max(p[2], 1e-3) for p in pts]), 1)[0]
            print(f"{label[:58]:58s} {bw:9.2f} {bc:8.2f}")


if __name__ == "__main__":
    main()
