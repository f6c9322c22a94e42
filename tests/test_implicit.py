"""The implicit multipartite graph (sparsetopo.encodings.implicit, sparsetopo.metrics.implicit*): its rows are the
explicit graph's symmetric adjacency, entry for entry; its products, per-node statistics and every topometric equal
the explicit path's on every traced test network (one of them large enough for the Lanczos iterations, with merged
duplicate pairs), ResNet-20 at 0.9 and CONV-6 at 0.98. The torchvision networks (ResNet-18, ResNet-50, MobileNetV2
at 32 px, ResNet-50 at 224 px) take minutes: they are the rows of ``benchmarks/bench_implicit.py --exactness``,
which checks them against the same rule. The GPU check's training, mask and resume checks run here on the CPU."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numba
import numpy as np
import pytest
import torch

from sparsetopo.encodings import multipartite
from sparsetopo.encodings.implicit import implicit_multipartite
from sparsetopo.metrics import kernels, structure, topometrics
from sparsetopo.metrics.implicit import (IMPLICIT_MIN_EDGES, choose_method, implicit_topometrics,
                                         network_topometrics)
from sparsetopo.metrics.implicit_classes import node_stats, position_classes
from sparsetopo.metrics.implicit_products import ConvProducts, pattern_product
from sparsetopo.metrics.implicit_rows import has_edge, symmetric_csr
from sparsetopo.metrics.lanczos import SPECTRAL_TOL
from sparsetopo.metrics.registry import METRICS
from sparsetopo.models import build_model
from sparsetopo.pruning import PruneContext, apply_masks, run_pruner

sys.path.insert(0, str(Path(__file__).parent))
from test_encodings import NetA, NetB, NetC, NetD, _mask_weights  # noqa: E402

SPECTRAL = ("spectral_gap", "spectral_gap_paper", "spectral_radius")
TEST_NETS = [(NetA, (3, 9, 9)), (NetB, (2, 8, 8)), (NetC, (1, 5, 5)), (NetD, (2, 5, 6))]
#: NetB at 20x20: 3,238 nodes (Lanczos, not dense eigenvalues), overlapping max pools that merge duplicate pairs
LARGE_NET = (NetB, (2, 20, 20))


def _test_net(cls, density: float):
    torch.manual_seed(0)
    model = cls()
    _mask_weights(model, density, seed=1)
    return model


def _pruned(name: str, shape, classes: int, pruner: str, sparsity: float):
    torch.manual_seed(0)
    net = build_model(name, shape, classes)
    masks = run_pruner(pruner, PruneContext(model=net, sparsity=sparsity, seed=0, input_shape=shape,
                                            num_classes=classes))
    with torch.no_grad():
        apply_masks(net, masks)
    return net.eval()


@pytest.fixture(scope="module")
def resnet20():
    """ResNet-20 pruned uniformly at 0.9 (1.9e5 nodes, 3.7e6 edges)."""
    return _pruned("resnet20", (3, 32, 32), 10, "uniform", 0.9)


def assert_same_metrics(explicit: dict, implicit: dict) -> None:
    """Integers equal, floats within 1e-9 relative, eigenvalues within the spectral tolerance (and 1e-7 relative
    in fact: products differ by rounding, and by the float32 rounding of merged weights in the explicit graph)."""
    assert list(explicit) == list(implicit)
    for name, a in explicit.items():
        b = implicit[name]
        if math.isnan(a):
            assert math.isnan(b), name
        elif METRICS[name].integer:
            assert a == b, name
        elif name in SPECTRAL:
            assert abs(a - b) <= 1e-7 * max(abs(a), 1e-12), (name, a, b)
        else:
            assert abs(a - b) <= 1e-9 * abs(a), (name, a, b)


@pytest.mark.parametrize("identity", [False, True])
@pytest.mark.parametrize("case", TEST_NETS, ids=lambda c: c[0].__name__)
def test_rows_are_the_explicit_adjacency(case, identity):
    """Every row, entry and weight of the symmetric adjacency, in the explicit order (merged duplicates included),
    and the edge test on random pairs."""
    cls, shape = case
    model = _test_net(cls, 0.6)
    g = multipartite(model, shape, identity_shortcuts=identity)
    ig = implicit_multipartite(model, shape, identity_shortcuts=identity)
    indptr, indices, data = kernels.csr(g.src, g.dst, g.weight, g.num_nodes, symmetric=True)
    got = symmetric_csr(ig, np.diff(indptr))
    for a, b in zip(got, (indptr, indices, data)):
        np.testing.assert_array_equal(a, b)
    pairs = set(zip(g.src.tolist(), g.dst.tolist()))
    rng = np.random.default_rng(0)
    for a, b in rng.integers(0, g.num_nodes, (3000, 2)):
        assert has_edge(ig.tables, a, b) == ((a, b) in pairs or (b, a) in pairs)
    for a, b in list(pairs)[::7]:
        assert has_edge(ig.tables, a, b) and has_edge(ig.tables, b, a)


@pytest.mark.parametrize("case", TEST_NETS, ids=lambda c: c[0].__name__)
def test_node_statistics_and_products(case):
    """Per-node degrees, row sums and norms (bitwise: the same sums in the same order) from one representative per
    position class; weighted and pattern products against the explicit CSR."""
    cls, shape = case
    model = _test_net(cls, 0.6)
    g = multipartite(model, shape, identity_shortcuts=True)
    ig = implicit_multipartite(model, shape, identity_shortcuts=True)
    n = g.num_nodes
    st = node_stats(ig)
    indptr, indices, data = kernels.csr(g.src, g.dst, g.weight, n, symmetric=True)
    out, inn = kernels.degrees(g.src, g.dst, n)
    np.testing.assert_array_equal(st.degree, np.diff(indptr))
    np.testing.assert_array_equal(st.out_degree, out)
    np.testing.assert_array_equal(st.in_degree, inn)
    np.testing.assert_array_equal(st.strength, kernels.row_sums(indptr, data))
    np.testing.assert_array_equal(st.row_norm, np.sqrt(kernels.row_sums(indptr, data, True)))
    o_ptr, o_idx, _ = kernels.csr(g.src, g.dst, None, n, symmetric=False, canonical=False)
    assert st.edges == g.num_edges and st.two_hop_total == kernels.hop_totals(o_ptr, o_idx)[1]
    x = np.random.default_rng(1).standard_normal((2, n))
    rows = np.repeat(np.arange(n), np.diff(indptr))
    dense = np.zeros((n, n))
    np.add.at(dense, (rows, indices), data.astype(np.float64))
    merged = any(v.dup for v in ig.jobs)  # the explicit build rounds merged weights to float32
    np.testing.assert_allclose(ConvProducts(ig).apply(x), x @ dense, rtol=0, atol=(1e-7 if merged else 1e-12) *
                               np.abs(x @ dense).max())
    np.testing.assert_allclose(pattern_product(ig, x[0]), x[0] @ (dense != 0), rtol=0, atol=1e-12 * n)


def test_position_classes_are_few_inside_feature_maps(resnet20):
    """ResNet-20: interior positions of a channel share a class; borders and stride phases add a few (here 12 times
    fewer representatives than nodes); a flattened map without pooling makes every position its own class."""
    cl = position_classes(implicit_multipartite(resnet20, (3, 32, 32)))
    assert cl.count() * 10 < 191_498
    assert all(len(r) <= 12 for r in cl.yrep)  # 32x32 maps: stride-2 phases and borders, not positions
    flat = position_classes(implicit_multipartite(_test_net(NetC, 0.6), (1, 5, 5)))
    assert [len(r) for r in flat.yrep][2] == 5  # NetC's 2x5x5 part is flattened into fc1: rigid


@pytest.mark.parametrize("density", [0.6, 0.15])
@pytest.mark.parametrize("identity", [False, True])
@pytest.mark.parametrize("case", TEST_NETS + [LARGE_NET], ids=lambda c: f"{c[0].__name__}-{c[1][-1]}")
def test_every_topometric_equals_the_explicit_path(case, identity, density):
    cls, shape = case
    model = _test_net(cls, density)
    for mode in ("exact", "estimate"):
        explicit = topometrics(multipartite(model, shape, identity), seed=2, motifs4=mode)
        assert_same_metrics(explicit, implicit_topometrics(implicit_multipartite(model, shape, identity), seed=2,
                                                           motifs4=mode))


@pytest.mark.parametrize("name, pruner, sparsity", [("resnet20", "uniform", 0.9),
                                                    ("conv6", "uniform", 0.98)])  # bipartite: Lanczos on B Bᵀ
def test_networks_equal_the_explicit_path(name, pruner, sparsity, resnet20):
    """Every topometric (the motif estimate included: same draws, same rows)."""
    net = resnet20 if name == "resnet20" else _pruned(name, (3, 32, 32), 10, pruner, sparsity)
    explicit = topometrics(multipartite(net, (3, 32, 32)), seed=0, motifs4="estimate", motif_budget_seconds=0.5)
    implicit = implicit_topometrics(implicit_multipartite(net, (3, 32, 32)), seed=0, motifs4="estimate",
                                    motif_budget_seconds=0.5)
    assert_same_metrics(explicit, implicit)
    assert explicit["motifs4_stderr"] > 0 and explicit["nodes"] > 100_000


def test_results_do_not_depend_on_the_threads(monkeypatch):
    """Both paths with every parallel step cut into many tasks (row blocks, representatives, triangle and sample
    chunks), on one thread and on two: the same values, bit for bit."""
    from sparsetopo.metrics import implicit_classes, implicit_motifs, tasks

    monkeypatch.setattr(tasks, "MIN_PARALLEL_WORK", 0)
    monkeypatch.setattr(implicit_classes, "REPS_PER_TASK", 8)
    monkeypatch.setattr(implicit_motifs, "TRIANGLE_CHUNK", 100)
    monkeypatch.setattr(implicit_motifs, "SAMPLE_CHUNK", 64)
    cls, shape = LARGE_NET
    model = _test_net(cls, 0.6)
    g, ig = multipartite(model, shape), implicit_multipartite(model, shape)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = [f(seed=1, motifs4="estimate", motif_budget_seconds=0.1) for f in (
            lambda **kw: topometrics(g, **kw), lambda **kw: implicit_topometrics(ig, **kw))]
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        assert topometrics(g, seed=1, motifs4="estimate", motif_budget_seconds=0.1) == one[0]
        assert implicit_topometrics(ig, seed=1, motifs4="estimate", motif_budget_seconds=0.1) == one[1]
    finally:
        numba.set_num_threads(before)
    assert_same_metrics(*one)


def test_edgeless_and_disconnected_graphs():
    """A network whose every weight is pruned: nodes but no edges (gaps 0, every node its own component)."""
    model = _test_net(NetD, 0.6)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    explicit = topometrics(multipartite(model, (2, 5, 6)))
    assert_same_metrics(explicit, implicit_topometrics(implicit_multipartite(model, (2, 5, 6))))
    assert explicit["components"] == explicit["nodes"] and explicit["spectral_gap"] == 0.0


def test_method_choice_and_network_topometrics(monkeypatch):
    assert choose_method(IMPLICIT_MIN_EDGES - 1) == "explicit" and choose_method(IMPLICIT_MIN_EDGES) == "implicit"
    assert choose_method(10, "implicit") == "implicit"
    with pytest.raises(ValueError, match="not one of auto, explicit, implicit"):
        choose_method(10, "fast")
    cls, shape = LARGE_NET
    net = _test_net(cls, 0.6)
    row, info = network_topometrics(net, shape, motifs4="estimate", motif_budget_seconds=0.2)
    raw = implicit_multipartite(net, shape).raw_edges
    assert info["method"] == "explicit" and info["raw_edges"] == raw > row["edges"] and info["seconds"] > 0
    monkeypatch.setattr("sparsetopo.metrics.implicit.IMPLICIT_MIN_EDGES", raw)
    again, info = network_topometrics(net, shape, motifs4="estimate", motif_budget_seconds=0.2)
    assert info["method"] == "implicit"
    assert_same_metrics(row, again)


def test_unknown_registered_metric_refused(monkeypatch):
    """A metric registered by a user has no implicit implementation: one clear error, before any work."""
    from sparsetopo.metrics import registry

    registry.register_metric("my_metric", lambda ctx: 1.0, scope="network", family="local")
    try:
        with pytest.raises(ValueError, match="my_metric.*method='explicit'"):
            implicit_topometrics(implicit_multipartite(_test_net(NetD, 0.6), (2, 5, 6)))
    finally:
        registry.unregister_metric("my_metric")


def test_structure_counts_on_a_fragmented_graph():
    """At 0.99 ResNet-20 falls apart: thousands of bridges, cut nodes and components, all equal."""
    net = _pruned("resnet20", (3, 32, 32), 10, "uniform", 0.99)
    g = multipartite(net, (3, 32, 32))
    ig = implicit_multipartite(net, (3, 32, 32))
    indptr, indices, _ = kernels.csr(g.src, g.dst, g.weight, g.num_nodes, symmetric=True)
    implicit = implicit_topometrics(ig, motifs4="estimate", motif_budget_seconds=0.1)
    bridges, cuts = structure.bridges_and_cut_nodes(indptr, indices)
    assert implicit["cut_edges"] == bridges > 1000 and implicit["cut_nodes"] == cuts
    assert implicit["components"] == structure.component_count(g.src, g.dst, g.num_nodes) > 1000
    assert implicit["k_core"] == float(structure.core_numbers(indptr, indices).mean())
    assert SPECTRAL_TOL == 1e-4  # the documented tolerance these comparisons are within


def _gpu_check():
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"
    spec = importlib.util.spec_from_file_location("gpu_check", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gpu_check_without_cuda_says_so_and_exits_0(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert _gpu_check().main([]) == 0
    out = capsys.readouterr().out
    assert "no CUDA device is available" in out and "nothing to check" in out


#: The GPU check's training settings, small enough for the CPU: 2 steps per epoch, SET moves weights after epochs
#: 1 and 2, the resume check restarts after epoch 1
CPU_CHECK = ["--device", "cpu", "--steps", "6", "--epochs", "3", "--batch", "16", "--skip-imagenet"]


def test_gpu_check_on_the_cpu_trains_holds_the_masks_and_resumes_identically(capsys):
    assert _gpu_check().main(CPU_CHECK) == 0
    out = capsys.readouterr().out
    assert "erk: 96 images in" in out and "images/s" in out and out.count("masks hold") == 2
    assert "moved; masks hold" in out and out.count("identical weights and masks") == 2
    assert "all checks passed" in out


def test_gpu_check_finds_leaking_masks_and_a_resume_that_differs(monkeypatch, capsys):
    """The checks can fail: training that stops applying the masks, and a resume that loses the momentum."""
    from sparsetopo import training
    from sparsetopo.training_state import Checkpoint

    check = _gpu_check()
    args = argparse.Namespace(steps=6, epochs=3, batch=16)
    cpu = torch.device("cpu")
    monkeypatch.setattr(training, "apply_masks", lambda model, masks: None)
    failures = check.check_training("erk", args, cpu)
    assert any("pruned weights are nonzero" in f for f in failures)
    monkeypatch.undo()
    load = Checkpoint.load

    def forgetful(self):
        state = load(self)
        if state is not None:
            for buf in state["optimizer"]["state"].values():
                buf["momentum_buffer"].zero_()
        return state

    monkeypatch.setattr(Checkpoint, "load", forgetful)
    failures = check.check_training("erk", args, cpu)
    assert failures == ["erk: the resumed run differs from the uninterrupted one"]
    assert "DIFFERENT from the uninterrupted run" in capsys.readouterr().out
