"""NNSTD: hand cases, invariants, a loop cross-check, both input formats, and the shipped topologies."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from sparsetopo.nnstd import (
    TopologyError,
    cli_nnstd,
    cost_matrix,
    load_topology,
    nnstd,
    nnstd_matrix,
    random_masks,
    random_null,
    topology_summary,
)


def _topo_root() -> Path:
    env = os.environ.get("SPARSETOPO_NNSTD_TOPO")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared/paper-data/nnstd-topologies/topo"


def _loop_cost(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Independent reference: explicit sets and the normalised edit distance |SΔS'| / |S∪S'|."""
    n_a, n_b = a.shape[1], b.shape[1]
    out = np.zeros((n_a, n_b))
    for j in range(n_a):
        s = set(np.flatnonzero(a[:, j]).tolist())
        for k in range(n_b):
            t = set(np.flatnonzero(b[:, k]).tolist())
            union = s | t
            out[j, k] = 0.0 if not union else len(s ^ t) / len(union)
    return out


def _distinct_fanin_topology(rng: np.random.Generator, sizes=(12, 8, 6, 3)) -> list[np.ndarray]:
    """Masks whose hidden neurons all have distinct fan-in sets (no ties in the matching)."""
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        while True:
            m = rng.random((n_in, n_out)) < 0.5
            cols = {tuple(np.flatnonzero(m[:, j])) for j in range(n_out)}
            if len(cols) == n_out and m.sum(axis=0).min() > 0:
                break
        layers.append(m)
    return layers


def test_hand_cost_matrix():
    a = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0]], dtype=bool)  # sets {0,1}, {1,2}, {}
    b = np.array([[1, 0, 0], [0, 0, 0], [0, 1, 0]], dtype=bool)  # sets {0}, {2}, {}
    expected = np.array([[0.5, 1.0, 1.0], [1.0, 0.5, 1.0], [1.0, 1.0, 0.0]])
    np.testing.assert_allclose(cost_matrix(a, b), expected)
    res = nnstd([a], [b])
    assert res.layers == pytest.approx([1.0 / 3.0])
    np.testing.assert_array_equal(res.matchings[0], [0, 1, 2])


def test_identical_is_zero():
    rng = np.random.default_rng(0)
    topo = random_masks([(30, 20), (20, 20), (20, 5)], [0.2, 0.3, 1.0], rng)
    res = nnstd(topo, topo)
    assert res.layers == [0.0, 0.0, 0.0] and res.mean == 0.0


def test_consistent_relabelling_is_zero():
    rng = np.random.default_rng(1)
    topo = _distinct_fanin_topology(rng)
    perm1, perm2 = rng.permutation(8), rng.permutation(6)
    relabelled = [topo[0][:, perm1], topo[1][perm1][:, perm2], topo[2][perm2]]
    assert nnstd(topo, relabelled).layers == pytest.approx([0.0, 0.0, 0.0])
    # and without propagating the matching, the second layer would not be aligned
    assert nnstd([topo[1]], [relabelled[1]]).mean > 0


def test_disjoint_inputs_is_one():
    a = np.zeros((10, 4), dtype=bool)
    b = np.zeros((10, 4), dtype=bool)
    a[:5] = True
    b[5:] = True
    assert nnstd([a], [b]).mean == 1.0
    # both empty -> 0, one empty -> 1
    assert nnstd([np.zeros((3, 2), bool)], [np.zeros((3, 2), bool)]).mean == 0.0
    assert cost_matrix(np.zeros((3, 1), bool), np.ones((3, 1), bool))[0, 0] == 1.0


@pytest.mark.parametrize("density", [0.02, 0.3])  # sparse and dense matmul paths
def test_vectorised_equals_loop(density):
    rng = np.random.default_rng(2)
    a = rng.random((40, 25)) < density
    b = rng.random((40, 25)) < density
    np.testing.assert_allclose(cost_matrix(a, b), _loop_cost(a, b), atol=1e-12)


def test_distance_bounds_and_symmetry_first_layer():
    rng = np.random.default_rng(3)
    tops = [random_masks([(20, 10), (10, 10)], [0.3, 0.3], rng) for _ in range(4)]
    full = nnstd_matrix(tops)
    l0 = nnstd_matrix(tops, layer=0)
    assert full.shape == (4, 4) and np.all(np.diag(full) == 0)
    assert np.all((full >= 0) & (full <= 1))
    assert nnstd(tops[1], tops[0]).layers[0] == pytest.approx(l0[1, 0])  # layer 0 is exactly symmetric


def test_random_null_below_one_and_deterministic():
    null = random_null([(50, 40)], [0.1], seed=4, draws=3)
    again = random_null([(50, 40)], [0.1], seed=4, draws=3)
    assert 0.5 < null.mean < 1.0
    assert null.values.shape == (3, 1) and null.mean == again.mean


def _write_original(folder: Path, topo: list[np.ndarray], rng: np.random.Generator) -> None:
    folder.mkdir(parents=True)
    for k, m in enumerate(topo):
        weights = np.where(m, rng.normal(size=m.shape), 0.0)
        bias = rng.normal(size=(1, m.shape[1]))  # the extra last row of the original files
        sp.save_npz(folder / f"weight_l{k}.npz", sp.csr_matrix(np.vstack([weights, bias])))


def test_formats_agree(tmp_path):
    rng = np.random.default_rng(5)
    topo_a = random_masks([(16, 12), (12, 12), (12, 4)], [0.3, 0.3, 1.0], rng)
    topo_b = random_masks([(16, 12), (12, 12), (12, 4)], [0.3, 0.3, 1.0], rng)
    _write_original(tmp_path / "orig_a", topo_a, rng)
    _write_original(tmp_path / "orig_b", topo_b, rng)
    names = ["net.1", "net.3", "net.5"]
    torch_masks = {n: torch.from_numpy(m.T.copy()) for n, m in zip(names, topo_b)}  # (out, in) like weights
    (tmp_path / "run_b").mkdir()
    torch.save({"masks": torch_masks}, tmp_path / "run_b" / "train.pt")
    np.savez(tmp_path / "masks_b.npz", **{n: m.numpy() for n, m in torch_masks.items()})
    np.savez(tmp_path / "masks_per_epoch.npz",
             **{f"epoch{e:03d}/{n}": m.numpy() for e in (0, 1) for n, m in torch_masks.items()})
    loaded = load_topology(tmp_path / "orig_a")
    assert [m.shape for m in loaded] == [(16, 12), (12, 12), (12, 4)]
    assert all(np.array_equal(x, y) for x, y in zip(loaded, topo_a))
    expected = nnstd(topo_a, topo_b).layers
    for b in (tmp_path / "orig_b", tmp_path / "run_b", tmp_path / "run_b" / "train.pt", tmp_path / "masks_b.npz"):
        assert cli_nnstd(tmp_path / "orig_a", b)["layers"] == pytest.approx(expected)
    per_epoch = load_topology(tmp_path / "masks_per_epoch.npz", epoch=1)
    assert nnstd(topo_a, per_epoch).layers == pytest.approx(expected)
    with pytest.raises(TopologyError, match="epoch"):
        load_topology(tmp_path / "masks_per_epoch.npz")


def test_conv_masks_channel_or_refused(tmp_path):
    mask = torch.zeros(4, 3, 3, 3, dtype=torch.bool)
    mask[1, 2, 0, 0] = True
    torch.save({"masks": {"conv": mask}}, tmp_path / "prune.pt")
    (layer,) = load_topology(tmp_path / "prune.pt")
    assert layer.shape == (3, 4) and layer.sum() == 1 and layer[2, 1]
    with pytest.raises(TopologyError, match="convolution"):
        load_topology(tmp_path / "prune.pt", conv="error")


def test_shipped_topologies():
    root = _topo_root()
    if not (root / "e5_s0_w0" / "epoch_000").is_dir():
        pytest.skip(f"shipped NNSTD topologies not found at {root} (set SPARSETOPO_NNSTD_TOPO)")
    w = [load_topology(root / f"e5_s0_w{i}" / "epoch_000") for i in (0, 1, 5, 9)]
    assert [m.shape for m in w[0]] == [(784, 784), (784, 784), (784, 784), (784, 10)]
    assert int(w[0][0].sum()) == 3772  # 0.614% of layer 0 (spec A.3)
    assert nnstd(w[0], w[0]).mean == 0.0
    d01, d05, d09 = (nnstd(w[0], x).layers[0] for x in w[1:])
    assert 0.0 < d01 < d05 < d09  # banding: distance grows with the generation gap
    # the vectorised layer-0 cost equals the explicit loop on a slice of real neurons
    sub_a, sub_b = w[0][0][:, :40], w[1][0][:, :40]
    np.testing.assert_allclose(cost_matrix(sub_a, sub_b), _loop_cost(sub_a, sub_b), atol=1e-12)
    shapes, dens = topology_summary(w[0])
    null = random_null(shapes[:1], dens[:1], seed=0, draws=1)
    assert d09 < null.mean  # related topologies are much closer than unrelated random ones
