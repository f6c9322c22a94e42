"""The benchmark scripts run on a tiny graph, their totals add up, and the side-by-side value comparison catches a
planted difference. No timing is asserted (speed is measured by the scripts themselves, never by tests)."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from sparsetopo.graph import Graph
from sparsetopo.metrics import topometrics

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name: str):
    if str(BENCH) not in sys.path:  # a script imports its sibling helpers (procstat) as it does when run directly
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", BENCH / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def side_by_side():
    return _load("side_by_side_metrics")


@pytest.fixture(scope="module")
def bench_metrics():
    return _load("bench_metrics")


@pytest.fixture(scope="module")
def tiny() -> Graph:
    """Input 0-2 (2 without edges), hidden 3-5 (3 fed by nothing, 5 leads nowhere), output 6-7."""
    src = [0, 1, 1, 3, 4, 4]
    dst = [4, 4, 5, 6, 6, 7]
    return Graph(src=src, dst=dst, weight=[0.5, 1.0, 2.0, 0.25, 1.5, 3.0], part_offsets=[0, 3, 6, 8],
                 part_names=["in", "hidden", "out"], part_shapes=[(3,), (3,), (2,)])


def test_original_formulas_by_hand(side_by_side, tiny):
    # sinks 5, 6, 7 minus the 2 output nodes; sources 0, 1, 3 minus the 3 input nodes (2 has no edge, so the
    # original counts one source too few); r-out skips node 5 (index < 8 - 1 - 2), r-in skips node 3 (index > 3)
    assert side_by_side.original_formulas(tiny) == {"sink_nodes": 1, "source_nodes": 0, "removable_out_edges": 0,
                                                    "removable_in_edges": 0}
    ours = topometrics(tiny)
    assert (ours["sink_nodes"], ours["source_nodes"], ours["removable_out_edges"], ours["removable_in_edges"],
            ours["disconnected_nodes"]) == (1, 1, 1, 1, 1)


def _as_original(side_by_side, graph):
    """What the original would print if it agreed with sparsetopo on ``graph``."""
    ours = topometrics(graph)
    theirs = {name: ours[name] for name in side_by_side.RULES}
    theirs.update(side_by_side.original_formulas(graph))
    theirs["adjacency_scale"] = 2.0
    return ours, theirs


def test_compare_catches_planted_differences(side_by_side, tiny):
    ours, theirs = _as_original(side_by_side, tiny)
    formulas, tol = side_by_side.original_formulas(tiny), 1e-4

    def failing(**changes):
        rows = side_by_side.compare({**theirs, **changes}, ours, formulas, tol)
        assert [r[0] for r in rows] == list(side_by_side.RULES)
        return [name for name, _, _, _, ok in rows if not ok]

    assert failing() == []
    assert failing(cut_edges=theirs["cut_edges"] + 1) == ["cut_edges"]
    assert failing(one_hop=theirs["one_hop"] * (1 + 1e-6)) == ["one_hop"]
    assert failing(source_nodes=ours["source_nodes"]) == ["source_nodes"]  # must follow the original's formula
    radius = theirs["spectral_radius"]
    assert failing(spectral_radius=radius * (1 + 0.5 * tol)) == []
    assert failing(spectral_radius=radius * (1 + 3 * tol)) == ["spectral_radius"]
    gap = theirs["spectral_gap_paper"]
    assert failing(spectral_gap_paper=gap + 1.5 * tol * 2.0) == []  # a gap is two eigenvalues: twice the tolerance
    assert failing(spectral_gap_paper=gap + 2.5 * tol * 2.0) == ["spectral_gap_paper"]
    assert failing(motifs4=theirs["motifs4"] * 1.5 + 1) == []  # the original's sampled estimate is not tested


def test_side_by_side_skips_without_the_original(side_by_side, tmp_path, capsys):
    assert side_by_side.main(["--mge-snn", str(tmp_path)]) == 0
    assert "skipped: the original code is not available" in capsys.readouterr().out


@pytest.mark.skipif(not os.environ.get("MGE_SNN") or importlib.util.find_spec("igraph") is None,
                    reason="needs a checkout of the original code (MGE_SNN=path) and igraph")
def test_side_by_side_agrees_on_a_small_graph(side_by_side):
    orig = side_by_side.load_original(Path(os.environ["MGE_SNN"]))
    model, sparsity, shape = side_by_side.WARM_UP
    net, shape = _load("bench_metrics").pruned_model(model, sparsity, shape=shape)
    graph, ours, theirs, own, times = side_by_side.run_once(model, net, shape, orig, 0)
    rows = side_by_side.compare(theirs, ours, side_by_side.original_formulas(graph), 1e-4)
    assert [name for name, _, _, _, ok in rows if not ok] == []
    assert own["nodes"] == graph.num_nodes + 3 * (10 * 10 - 8 * 8)  # the original keeps the padded input as nodes
    assert {r[0] for r in times["build"]} == {"sparsetopo: multipartite()",
                                              "original: Unrolled_GE + get_multipartite_graph"}


def test_bench_steps_total_is_the_sum_of_the_steps(bench_metrics, tiny):
    rows, result, extra = bench_metrics.bench_steps(tiny)
    *steps, total = rows
    assert total[0] == "sum of the steps" and len(steps) >= 5
    assert total[1] == pytest.approx(sum(r[1] for r in steps)) and total[2] == pytest.approx(sum(r[2] for r in steps))
    assert extra["call"] >= total[1] and extra["gc"] >= 0
    assert result == topometrics(tiny)


def test_mem_available_reads_meminfo(bench_metrics):
    with open("/proc/meminfo") as fh:
        kib = {line.split(":")[0]: int(line.split()[1]) for line in fh}
    assert abs(bench_metrics.mem_available() / 1024 - kib["MemAvailable"]) < 0.05 * kib["MemTotal"]
    assert bench_metrics.process_peak() >= bench_metrics.status("VmRSS") > 0
