"""NNSTD: hand cases, invariants, a loop cross-check, both input formats, the shipped topologies (released files
or fixtures, see conftest.py) and their pinned download, NNSTD between the seeds of a study's runs, the chain's
options, the figures, and the workflow's NNSTD targets on a tiny study (online, offline, local copy)."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp
import torch

from sparsetopo.nnstd import (
    CHAIN_OPTIONS,
    TopologyError,
    chain_options,
    chain_topologies,
    cli_nnstd,
    cost_matrix,
    load_topology,
    nnstd,
    nnstd_matrix,
    random_masks,
    random_null,
    reference_epochs,
    topology_summary,
)
from sparsetopo.nnstd import reference
from sparsetopo.nnstd.runs import seed_pairs


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


def test_shipped_topologies(paper_data):
    root, facts = paper_data.topo, paper_data.topo_facts
    networks = sorted(p.name for p in root.iterdir())
    assert len(networks) == facts["topo_networks"]
    assert reference_epochs(root / "e5_s0_w0") == facts["topo_epochs"]
    assert sum(1 for p in root.rglob("testacc.txt")) == facts["topo_accuracy_files"]
    w = [load_topology(root / f"e5_s0_w{i}" / "epoch_000") for i in (0, 1, 5, 9)]
    assert [m.shape for m in w[0]] == facts["topo_shapes"]
    assert all(want is None or int(m.sum()) == want for m, want in zip(w[0], facts["topo_edges"]))  # layer 0 of
    # the original: 3772 edges, 0.614% (spec A.3); the output layer is dense
    assert w[0][-1].all()
    assert nnstd(w[0], w[0]).mean == 0.0
    d01, d05, d09 = (nnstd(w[0], x).layers[0] for x in w[1:])
    assert 0.0 < d01 < d05 < d09  # banding: distance grows with the generation gap
    # the vectorised layer-0 cost equals the explicit loop on a slice of real neurons
    sub_a, sub_b = w[0][0][:, :40], w[1][0][:, :40]
    np.testing.assert_allclose(cost_matrix(sub_a, sub_b), _loop_cost(sub_a, sub_b), atol=1e-12)
    shapes, dens = topology_summary(w[0])
    null = random_null(shapes[:1], dens[:1], seed=0, draws=1)
    assert d09 < null.mean  # related topologies are much closer than unrelated random ones


# ------------------------------------------------------------------------------------ pinned reference download

def test_reference_manifest_pins_the_commit(paper_data):
    info = reference.load_reference_checksums()
    assert info["commit"] == "ef8bf145a570b193a87a5bd17c12eefb168b1d16" and info["folder"] == "topo"
    assert info["repository"] == "Shiweiliuiiiiiii/Sparse_Topology_Distance"
    assert info["base_url"] == f"https://raw.githubusercontent.com/{info['repository']}/{info['commit']}/"
    assert len(info["files"]) == 367 and all(len(v) == 64 for v in info["files"].values())
    assert reference.manifest_epochs(info) == [0, 10, 20, 30, 40, 50, 100, 150, 190]
    # one epoch: 10 networks x 4 layers, plus the 7 accuracy curves
    files = reference.reference_files([0], info)
    assert len(files) == 47 and sum(f.endswith("testacc.txt") for f in files) == 7
    with pytest.raises(TopologyError, match=r"epochs \[7\] are not in the release"):
        reference.reference_files([0, 7], info)
    if paper_data.topo_real:  # the pinned sha256 are those of the released files
        assert reference.verify_reference(paper_data.topo) == []


def _serve_topologies(monkeypatch, folder: Path, fetched: list[str]) -> None:
    info = reference.load_reference_checksums()
    base = info["base_url"] + info["folder"] + "/"

    def local(url, timeout=None):
        assert url.startswith(base), url
        fetched.append(url[len(base):])
        return io.BytesIO((folder / url[len(base):]).read_bytes())

    monkeypatch.setattr(urllib.request, "urlopen", local)


def _offline(monkeypatch) -> None:
    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(urllib.request, "urlopen", offline)


def test_reference_download_fetches_the_chosen_epochs_once(tmp_path, monkeypatch, pinned_paper_data):
    epochs = pinned_paper_data.topo_facts["topo_epochs"][:1]
    fetched: list[str] = []
    _serve_topologies(monkeypatch, pinned_paper_data.topo, fetched)
    dest = reference.download_reference(tmp_path / "topo", epochs)
    assert sorted(fetched) == reference.reference_files(epochs)
    assert all("/epoch_" not in f or f"/epoch_{epochs[0]:03d}/" in f for f in fetched)
    assert reference.verify_reference(dest, epochs) == []
    reference.download_reference(dest, epochs)  # complete and verified: nothing fetched again
    assert len(fetched) == len(reference.reference_files(epochs))
    # what was downloaded reads like the original folder
    assert load_topology(dest / "e5_s0_w1" / f"epoch_{epochs[0]:03d}")[0].shape == \
        pinned_paper_data.topo_facts["topo_shapes"][0]
    with pytest.raises(TopologyError, match="files missing"):
        reference.verify_reference(dest)  # the other epochs were not downloaded


def test_reference_fetch_offline_writes_a_plain_status_then_recovers(tmp_path, monkeypatch, pinned_paper_data):
    status_path, note = tmp_path / "fetch.json", tmp_path / "SKIPPED.md"
    epochs = pinned_paper_data.topo_facts["topo_epochs"][:1]
    _offline(monkeypatch)
    status = reference.fetch_reference(tmp_path / "topo", epochs, status_path, skip_note_path=note)
    assert status == json.loads(status_path.read_text())
    assert status["available"] is False and status["files"] == 0
    assert "cannot download the reference NNSTD topologies" in status["reason"]
    assert "set `nnstd.reference_topologies` to a local copy" in status["reason"]
    text = reference.skip_note(status, "results/study/nnstd/reference/nnstd_reference.png")
    assert "(`results/study/nnstd/reference/nnstd_reference.png`) was not made" in text
    assert "rest of the study ran normally" in text
    assert status["reason"] in text and "nnstd: {reference: false}" in text
    assert "`snakemake --forcerun nnstd_reference_fetch`" in text  # how to retry: the workflow does not by itself
    note.write_text(text)
    figure = {"png": "nnstd_reference.png", "pdf": "nnstd_reference.pdf"}
    assert reference.status_inputs(status_path, figure, note) == {"status": str(status_path), "skipped": str(note)}
    reference.write_status_html(tmp_path / "status.html", status)
    assert "<b>Skipped:</b>" in (tmp_path / "status.html").read_text()
    # the network is back: the same call completes the copy and removes the stale note
    _serve_topologies(monkeypatch, pinned_paper_data.topo, [])
    status = reference.fetch_reference(tmp_path / "topo", epochs, status_path, skip_note_path=note)
    assert status["available"] is True and status["reason"] is None
    assert status["files"] == len(reference.reference_files(epochs)) and not note.exists()
    assert reference.status_inputs(status_path, figure, note) == {"status": str(status_path), **figure}
    reference.write_status_html(tmp_path / "status.html", status)
    html = (tmp_path / "status.html").read_text()
    assert "Every file matches its pinned sha256" in html and status["commit"] in html


def test_corrupt_reference_download_is_an_error_not_a_skip(tmp_path, monkeypatch, pinned_paper_data):
    from sparsetopo.analysis.published import DownloadError, PublishedDataError

    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: io.BytesIO(b"corrupt"))
    with pytest.raises(PublishedDataError, match="sha256") as err:
        reference.fetch_reference(tmp_path / "topo", [0], tmp_path / "fetch.json")
    assert not isinstance(err.value, DownloadError) and not (tmp_path / "fetch.json").exists()


def test_local_copy_status_names_changed_files(tmp_path, pinned_paper_data):
    epochs = pinned_paper_data.topo_facts["topo_epochs"][:1]
    copy = tmp_path / "topo"
    for rel in reference.reference_files(epochs):
        (copy / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(pinned_paper_data.topo / rel, copy / rel)
    status, mismatched = reference.local_status(copy, epochs)
    assert status["available"] and mismatched == [] and status["files"] == len(reference.reference_files(epochs))
    changed = f"e5_s0_w3/epoch_{epochs[0]:03d}/weight_l1.npz"
    (copy / changed).write_bytes((copy / changed).read_bytes() + b"\0")
    (copy / "e5_s0_w0" / "testacc.txt").unlink()
    assert reference.local_status(copy, epochs)[1] == ["e5_s0_w0/testacc.txt", changed]
    reference.write_status_html(tmp_path / "status.html", status, [changed])
    assert "1 files differ from the pinned sha256" in (tmp_path / "status.html").read_text()


# ------------------------------------------------------------------------------- NNSTD between seeds of runs

def _save_run(folder: Path, layers: list[np.ndarray], names=("net.1", "net.3", "net.5")) -> Path:
    """A train.pt like the workflow's: masks shaped like the weights, i.e. (out, in) = the transposed topology."""
    folder.mkdir(parents=True, exist_ok=True)
    masks = {n: torch.from_numpy(np.ascontiguousarray(m.T)) for n, m in zip(names, layers)}
    torch.save({"state_dict": {}, "masks": masks, "run": {}}, folder / "train.pt")
    return folder / "train.pt"


def _run(pruner: str, seed: int, path: Path, accuracy: float, **extra) -> dict:
    return {"dataset": "digits", "model": "mlp", "pruner": pruner, "sparsity": 0.9, "seed": seed, "path": str(path),
            "accuracy": accuracy, **extra}


def test_seed_pairs_hand_cases_and_cross_checks(tmp_path):
    rng = np.random.default_rng(7)
    base = _distinct_fanin_topology(rng)  # (12, 8), (8, 6), (6, 3)
    perm1, perm2 = rng.permutation(8), rng.permutation(6)
    relabelled = [base[0][:, perm1], base[1][perm1][:, perm2], base[2][perm2]]
    other = random_masks([m.shape for m in base], [float(m.mean()) for m in base], rng)
    runs = [_run("set", 0, _save_run(tmp_path / "s0", base), 0.91),
            _run("set", 1, _save_run(tmp_path / "s1", relabelled), 0.90),  # the same topology, relabelled
            _run("set", 2, _save_run(tmp_path / "s2", other), 0.89),
            _run("set", 3, _save_run(tmp_path / "s3", other), 0.10, failed=True),  # left out
            _run("er", 0, _save_run(tmp_path / "e0", base), 0.80),
            _run("er", 5, _save_run(tmp_path / "e5", base), 0.81)]
    pairs, layers = seed_pairs(runs, null_draws=4, null_seed=3)
    assert pairs.select("pruner", "seed_a", "seed_b").rows() == [("er", 0, 5), ("set", 0, 1), ("set", 0, 2),
                                                                 ("set", 1, 2)]
    assert layers.height == 3 * pairs.height and set(layers["layer_name"]) == {"net.1", "net.3", "net.5"}
    by = {(r["pruner"], r["seed_a"], r["seed_b"]): r for r in pairs.iter_rows(named=True)}
    assert by[("er", 0, 5)]["nnstd"] == 0.0 and by[("set", 0, 1)]["nnstd"] == pytest.approx(0.0)
    assert (by[("set", 0, 1)]["accuracy_a"], by[("set", 0, 1)]["accuracy_b"]) == (0.91, 0.90)
    expected = nnstd(base, other)
    assert by[("set", 0, 2)]["nnstd"] == pytest.approx(expected.mean)
    got = layers.filter((pl.col("seed_a") == 0) & (pl.col("seed_b") == 2)).sort("layer")["nnstd"].to_list()
    assert got == pytest.approx(expected.layers)
    # the pair's distance is the mean of its layers; densities are kept / total
    means = layers.group_by("pruner", "seed_a", "seed_b").agg(pl.col("nnstd").mean())
    for r in means.iter_rows(named=True):
        assert by[(r["pruner"], r["seed_a"], r["seed_b"])]["nnstd"] == pytest.approx(r["nnstd"])
    sizes = np.array([m.size for m in base])
    kept = np.array([m.sum() for m in base])
    assert by[("er", 0, 5)]["density_a"] == pytest.approx(kept.sum() / sizes.sum())
    # the null: random masks of the same densities, far from 0, reproducible, per pair
    assert (pairs["null_nnstd"] > 0.2).all() and (pairs["null_std"] >= 0).all()
    np.testing.assert_allclose(pairs["relative_to_null"], pairs["nnstd"] / pairs["null_nnstd"])
    again, _ = seed_pairs(runs, null_draws=4, null_seed=3)
    assert again.equals(pairs)
    shifted, _ = seed_pairs(runs, null_draws=4, null_seed=4)
    assert not np.allclose(shifted["null_nnstd"], pairs["null_nnstd"])
    empty, empty_layers = seed_pairs(runs[:1])
    assert empty.height == 0 and empty.columns == pairs.columns and empty_layers.columns == layers.columns


def test_seed_pairs_compare_convolutions_at_channel_level(tmp_path):
    a = torch.zeros(4, 3, 3, 3, dtype=torch.bool)
    a[0, 0, 1, 1] = a[1, 1, 0, 0] = a[2, 2, 2, 2] = a[3, 0, 0, 0] = True
    b = a.clone()
    b[3, 0, 0, 0], b[3, 1, 2, 2] = False, True  # filter 3 now reads channel 1 instead of channel 0
    runs = []
    for seed, mask in ((0, a), (1, b)):
        (tmp_path / str(seed)).mkdir()
        torch.save({"masks": {"conv": mask}}, tmp_path / str(seed) / "train.pt")
        runs.append(_run("snip", seed, tmp_path / str(seed) / "train.pt", 0.5))
    pairs, layers = seed_pairs(runs, null_draws=2)
    # channel sets: A {0},{1},{2},{0}; B {0},{1},{2},{1}: the best matching leaves one filter with Jaccard 1
    assert pairs["nnstd"].item() == pytest.approx(0.25) and layers["density_a"].item() == pytest.approx(4 / 12)


# ------------------------------------------------------------------------------------ chain options and figures

def test_chain_reads_the_validated_config(study_config):
    opts = study_config["nnstd"]
    assert set(CHAIN_OPTIONS) <= set(opts)  # every option the chain reads has a default in the schema
    with pytest.raises(KeyError, match=r"\['epsilon'\] are missing"):
        chain_options({k: v for k, v in opts.items() if k != "epsilon"})
    chain = chain_topologies([(20, 16), (16, 10)], {**opts, "networks": 3, "perturb_fraction": 0.25})
    assert len(chain) == 3 and chain[0][1].all()  # the output layer is dense
    edges = int(chain[0][0].sum())
    moved = int(round(0.25 * edges))
    for prev, nxt in zip(chain, chain[1:]):
        assert int(nxt[0].sum()) == edges and int((prev[0] & ~nxt[0]).sum()) == moved


def test_figures_write_png_and_pdf_with_stable_bytes(tmp_path):
    from sparsetopo.nnstd.figures import plot_nnstd_heatmaps, plot_seed_pairs
    from sparsetopo.nnstd.tables import pairs_frame

    rng = np.random.default_rng(0)
    tops = [random_masks([(12, 8), (8, 4)], [0.3, 0.5], rng) for _ in range(3)]
    from sparsetopo.nnstd import nnstd_pairwise

    null = random_null([(12, 8), (8, 4)], [0.3, 0.5], seed=0, draws=2)
    frame = pl.concat([pairs_frame(nnstd_pairwise(tops), ["n_w0", "n_w1", "n_w2"], e, null) for e in (0, 5)])
    pairs = pl.DataFrame({"dataset": ["digits"] * 4, "model": ["mlp"] * 4, "pruner": ["er", "er", "set", "set"],
                          "sparsity": [0.9, 0.8, 0.9, 0.8], "seed_a": [0] * 4, "seed_b": [1] * 4,
                          "accuracy_a": [0.8, 0.85, 0.82, 0.86], "accuracy_b": [0.79, 0.84, 0.83, 0.85],
                          "density_a": [0.1, 0.2, 0.1, 0.2], "density_b": [0.1, 0.2, 0.1, 0.2],
                          "nnstd": [0.5, 0.4, 0.6, 0.5], "null_nnstd": [0.7, 0.6, 0.7, 0.6],
                          "null_std": [0.01] * 4, "relative_to_null": [0.7, 0.66, 0.85, 0.83]})
    for run in ("a", "b"):
        written = plot_nnstd_heatmaps(frame, tmp_path / run / "heat.png", title="test")
        assert [p.name for p in written] == ["heat.png", "heat.pdf"]
        plot_seed_pairs(pairs, tmp_path / run / "seeds.png", tmp_path / run / "seeds.pdf")
        plot_seed_pairs(pairs.clear(), tmp_path / run / "none.png")
    for name in ("heat.png", "heat.pdf", "seeds.png", "seeds.pdf", "none.png", "none.pdf"):
        data = (tmp_path / "a" / name).read_bytes()
        assert data[:4] in (b"\x89PNG", b"%PDF") and data == (tmp_path / "b" / name).read_bytes(), name


# --------------------------------------------------------------------------------- the workflow on a tiny study

from workflow_helpers import make_workdir  # noqa: E402


def _workdir(tmp: Path, config: dict) -> Path:
    (make_workdir(tmp) / "study.yaml").write_text(json.dumps(config))
    return tmp


def _snakemake(workdir: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "snakemake", *args, "--configfile", "study.yaml", "--cores", "2"],
                          cwd=workdir, text=True, capture_output=True, timeout=1200, env=env)
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


TINY = {"study": "tiny", "datasets": ["digits"], "models": ["mlp"], "model_options": {"mlp": {"hidden": [16, 16]}},
        "pruners": ["er", "set"], "sparsities": [0.9], "seeds": [0, 1, 2], "training": {"epochs": 1},
        "encodings": ["rolled"], "metrics": {"ramanujan": False}, "analyses": []}


@pytest.mark.slow
def test_workflow_runs_pairs_and_offline_reference(tmp_path):
    """nnstd.runs on a tiny study, with the reference download forced offline (a proxy that refuses): the study
    completes, the skip is written where a user sees it, and the study is then up to date: the download is retried
    only on request (--forcerun nnstd_reference_fetch)."""
    config = {**TINY, "nnstd": {"enabled": True, "chain": False, "runs": True, "reference_epochs": [0]}}
    workdir = _workdir(tmp_path, config)
    offline = {k: v for k, v in os.environ.items() if k.lower() not in ("no_proxy", "https_proxy", "http_proxy")}
    offline.update(https_proxy="http://127.0.0.1:9", HTTPS_PROXY="http://127.0.0.1:9")
    targets = ["results/tiny/nnstd/reference/status.html", "results/tiny/nnstd/runs/nnstd_runs.png"]
    _snakemake(workdir, *targets, env=offline)
    out = workdir / "results" / "tiny" / "nnstd"
    note = (out / "reference" / "SKIPPED.md").read_text()
    assert "NNSTD reference figure skipped" in note and "nnstd.reference_topologies" in note
    assert "<b>Skipped:</b>" in (out / "reference" / "status.html").read_text()
    assert not (out / "reference" / "nnstd_reference.png").exists()
    pairs = pl.read_parquet(out / "runs" / "pairs.parquet")
    assert pairs.select("pruner", "seed_a", "seed_b").rows() == [
        ("er", 0, 1), ("er", 0, 2), ("er", 1, 2), ("set", 0, 1), ("set", 0, 2), ("set", 1, 2)]
    assert pl.read_parquet(out / "runs" / "layers.parquet").height == 3 * pairs.height
    for r in pairs.iter_rows(named=True):
        for side in ("a", "b"):
            run = workdir / f"results/tiny/runs/digits/mlp/{r['pruner']}/s0.9/seed{r[f'seed_{side}']}/train.json"
            assert r[f"accuracy_{side}"] == json.loads(run.read_text())["accuracy"]
    assert ((pairs["nnstd"] > 0) & (pairs["nnstd"] < 1)).all() and (pairs["density_a"] - 0.1).abs().max() < 1e-3
    assert (out / "runs" / "nnstd_runs.pdf").read_bytes()[:4] == b"%PDF"
    assert (workdir / "logs" / "tiny" / "benchmarks" / "nnstd" / "runs_pairs.tsv").exists()
    dry = _snakemake(workdir, *targets, "-n", env=offline)
    assert "Nothing to be done" in dry.stdout + dry.stderr  # an offline study is complete, not retried every run
    dry = _snakemake(workdir, *targets, "-n", "--forcerun", "nnstd_reference_fetch", env=offline)
    said = dry.stdout + dry.stderr
    assert "checkpoint nnstd_reference_fetch:" in said and "nnstd_runs_pairs" not in said, said  # a retry on request
    report = workdir / "report.html"
    _snakemake(workdir, *targets, "--report", str(report), env=offline)
    assert "status.html" in report.read_text(errors="ignore")


@pytest.mark.slow
def test_workflow_reference_from_a_local_copy(tmp_path, paper_data):
    """nnstd.reference_topologies: a path: no download, the figure from that copy, its checksums in the status."""
    epoch = paper_data.topo_facts["topo_epochs"][0]
    config = {**TINY, "nnstd": {"enabled": True, "chain": False, "reference_topologies": str(paper_data.topo),
                                "reference_epochs": [epoch]}}
    workdir = _workdir(tmp_path, config)
    _snakemake(workdir, "results/tiny/nnstd/reference/status.html")
    out = workdir / "results" / "tiny" / "nnstd" / "reference"
    assert (out / "nnstd_reference.png").exists() and not (out / "fetch.json").exists()
    frame = pl.read_parquet(out / "pairs.parquet")
    n = paper_data.topo_facts["topo_networks"]
    assert frame.filter(pl.col("layer") == "mean").height == n * (n - 1) // 2
    html = (out / "status.html").read_text()
    assert f"the local copy {paper_data.topo}" in html
    assert ("Every file matches" in html) == paper_data.topo_real  # the fixtures are not the pinned files


WRONG_NNSTD = [
    ({"enabled": True, "runs": True}, "config key 'nnstd.runs': true compares the final masks of different seeds"),
    ({"enabled": True, "reference_topologies": "/nonexistent/topo"},
     "config key 'nnstd.reference_topologies': folder '/nonexistent/topo' does not exist"),
    ({"enabled": True, "reference_epochs": [0, 7]},
     r"config key 'nnstd.reference_epochs': epochs \[7\] are not among the reference snapshots \[0, "),
]


@pytest.mark.parametrize("nnstd_config, message", WRONG_NNSTD)
def test_validation_names_wrong_nnstd_keys(schema_path, nnstd_config, message):
    from sparsetopo.config import ConfigError, validate_config

    with pytest.raises(ConfigError, match=message):
        validate_config({**TINY, "seeds": [0], "nnstd": nnstd_config}, schema_path)
    validate_config({**TINY, "nnstd": {"enabled": True, "runs": True, "reference_epochs": [0]}}, schema_path)


@pytest.mark.slow
def test_workflow_refuses_wrong_nnstd_keys_before_any_job(tmp_path):
    import re

    nnstd_config, message = WRONG_NNSTD[2]
    workdir = _workdir(tmp_path, {**TINY, "seeds": [0], "nnstd": nnstd_config})
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--configfile", "study.yaml"], cwd=workdir,
                          text=True, capture_output=True, timeout=600)
    assert proc.returncode != 0 and re.search(message, proc.stdout + proc.stderr), proc.stderr[-2000:]
    assert not (workdir / "results").exists()
