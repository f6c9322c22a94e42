"""random_topology: the seed is the generator; per-layer counts, wiring families, determinism; CONV-6's width."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from sparsetopo.models import build_model, prunable_layers
from sparsetopo.pruning import PRUNERS, PruneContext, layer_densities, run_pruner
from sparsetopo.pruning.saliency import snip_scores, synflow_scores
from sparsetopo.pruning.topology_generators import (
    FAMILIES,
    channel_mask,
    draw_generator,
    kernel_mask,
    spread_mask,
)

torch.set_num_threads(1)

SHAPE = (1, 10, 10)
DEFAULTS = dict(PRUNERS.get("random_topology").defaults)


def _model(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_model("conv6", SHAPE, 10, width=0.125)  # 8/16/32 channels, 32 hidden units


def _batches():
    g = torch.Generator().manual_seed(5)
    return iter([(torch.randn(16, *SHAPE, generator=g), torch.randint(0, 10, (16,), generator=g))])


def _ctx(sparsity=0.9, seed=0, **options):
    return PruneContext(_model(seed), sparsity, seed, SHAPE, 10, dict(options), _batches)


def _counts(masks):
    return {n: int(m.sum()) for n, m in masks.items()}


# ------------------------------------------------------------------------------------------ allocations

@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("sparsity", [0.8, 0.95])
def test_reference_allocation_has_erks_counts_for_every_family(family, sparsity):
    """reference_share 1: every layer holds exactly ERK's count (the erk pruner's, computed independently), so only
    the wiring differs between families."""
    erk = _counts(run_pruner("erk", _ctx(sparsity)))
    ctx = _ctx(sparsity, families=[family], reference_share=1.0)
    masks = run_pruner("random_topology", ctx)
    assert _counts(masks) == erk
    assert sum(erk.values()) == ctx.keep
    assert ctx.options["generator"]["allocation"] == "reference" and ctx.options["generator"]["family"] == family


def test_random_allocations_are_exact_and_differ_between_seeds():
    allocations = []
    for seed in range(6):
        ctx = _ctx(0.9, seed, reference_share=0.0, families=["uniform"])
        counts = _counts(run_pruner("random_topology", ctx))
        assert sum(counts.values()) == ctx.keep
        sizes = {n: m.weight.numel() for n, m in prunable_layers(ctx.model)}
        assert all(0 <= counts[n] <= sizes[n] for n in counts)
        allocations.append(tuple(counts.values()))
    assert len(set(allocations)) == 6


def test_erk_power_one_is_erk_and_power_zero_is_one_density_everywhere():
    erk = _counts(run_pruner("erk", _ctx(0.9)))
    one = _counts(run_pruner("random_topology", _ctx(0.9, reference_share=0.0, allocations=["erk_power"],
                                                     power=[1.0, 1.0], families=["uniform"])))
    assert one == erk
    ctx = _ctx(0.9, reference_share=0.0, allocations=["erk_power"], power=[0.0, 0.0], families=["uniform"])
    densities = layer_densities(run_pruner("random_topology", ctx))
    sizes = {n: m.weight.numel() for n, m in prunable_layers(ctx.model)}
    for n, d in densities.items():  # raw density 1 everywhere: 0.1 in every layer, up to the integer rounding
        assert abs(d - 0.1) <= 1.0 / sizes[n] + 1e-12, n


def test_dirichlet_with_huge_concentration_gives_equal_shares():
    """alpha -> infinity: every layer holds keep/L weights, except the layers too small for it (dense), whose
    excess is spread evenly over the others (ERK's capping rule)."""
    ctx = _ctx(0.9, reference_share=0.0, allocations=["dirichlet"], dirichlet_alpha=[1e7, 1e7], families=["uniform"])
    counts = _counts(run_pruner("random_topology", ctx))
    sizes = {n: m.weight.numel() for n, m in prunable_layers(ctx.model)}
    dense = {n for n in sizes if counts[n] == sizes[n]}
    assert dense and len(dense) < len(sizes)  # conv1 (72 weights) and the classifier (320) cannot hold keep/8
    share = (ctx.keep - sum(sizes[n] for n in dense)) / (len(sizes) - len(dense))
    for n in set(sizes) - dense:
        assert abs(counts[n] - share) <= 2, (n, counts[n], share)


def test_same_generator_same_draws_at_every_sparsity_and_the_draws_are_recorded():
    for seed in range(20):
        a, b = _ctx(0.8, seed), _ctx(0.95, seed)
        run_pruner("random_topology", a)
        run_pruner("random_topology", b)
        assert a.options["generator"] == b.options["generator"] == draw_generator(seed, {**DEFAULTS})


def test_default_draws_cover_every_family_and_half_are_reference():
    draws = [draw_generator(seed, DEFAULTS) for seed in range(200)]
    assert {d["family"] for d in draws} == set(FAMILIES)
    reference = sum(d["allocation"] == "reference" for d in draws)
    assert 70 <= reference <= 130  # Binomial(200, 0.5): 100 +- 30 is beyond 4 standard deviations
    assert {d["allocation"] for d in draws} == {"reference", "dirichlet", "erk_power"}


# --------------------------------------------------------------------------------------------- wirings

def test_channel_concentration_leaves_every_other_channel_empty():
    rng = np.random.default_rng(0)
    shape = (8, 6, 3, 3)
    mask = channel_mask(shape, 20, 0, 0.25, rng)  # ceil(0.25 * 8) = 2 output channels; 20 fit in 2 * 54
    assert mask.shape == shape and mask.sum() == 20
    assert (mask.reshape(8, -1).sum(1) > 0).sum() == 2
    mask = channel_mask(shape, 200, 0, 0.25, rng)  # 200 need ceil(200 / 54) = 4 channels
    assert mask.sum() == 200 and (mask.reshape(8, -1).sum(1) > 0).sum() == 4
    mask = channel_mask(shape, 20, 1, 0.5, rng)  # input axis: ceil(0.5 * 6) = 3 input channels
    assert mask.sum() == 20 and (mask.sum(axis=(0, 2, 3)) > 0).sum() == 3
    assert channel_mask(shape, 0, 0, 0.5, rng).sum() == 0


def test_channels_family_never_empties_a_class():
    """Concentration on output channels: inner layers lose most output channels; the classifier is concentrated on
    its inputs instead."""
    for seed in range(200):
        if (draw := draw_generator(seed, {**DEFAULTS, "families": ["channels"]}))["axis"] == "output":
            break
    ctx = _ctx(0.95, seed, families=["channels"], reference_share=1.0)
    masks = run_pruner("random_topology", ctx)
    fraction = draw["channel_fraction"]
    inner = masks["features.3"]  # 8 -> 8 channels, 3x3, 576 weights
    used = max(math.ceil(fraction * 8), math.ceil(int(inner.sum()) / 72))
    assert used < 8 and 1 <= int((inner.reshape(8, -1).sum(1) > 0).sum()) <= used
    last = masks["classifier.6"]  # 32 -> 10: concentrated on its inputs, never on its outputs
    used = max(math.ceil(fraction * 32), math.ceil(int(last.sum()) / 10))
    assert used < 32 and 1 <= int((last.sum(0) > 0).sum()) <= used
    assert bool((last.sum(1) > 0).all())  # every class keeps inputs


def test_kernel_concentration_uses_few_positions():
    rng = np.random.default_rng(1)
    shape = (8, 6, 3, 3)
    mask = kernel_mask(shape, 30, 2, rng)
    assert mask.sum() == 30 and (mask.sum(axis=(0, 1)) > 0).sum() == 2
    mask = kernel_mask(shape, 200, 2, rng)  # 200 need ceil(200 / 48) = 5 positions
    assert mask.sum() == 200 and (mask.sum(axis=(0, 1)) > 0).sum() == 5
    linear = kernel_mask((10, 7), 30, 1, rng)  # no spatial kernel: uniform, any column
    assert linear.sum() == 30


@pytest.mark.parametrize("shape", [(8, 6, 3, 3), (10, 7), (5, 1, 3, 3)])
@pytest.mark.parametrize("fraction", [0.0, 0.01, 0.1, 0.37, 0.5, 0.93, 1.0])
def test_spread_counts_per_channel_differ_by_at_most_one(shape, fraction):
    size = int(np.prod(shape))
    count = int(round(fraction * size))
    mask = spread_mask(shape, count, np.random.default_rng(count))
    assert mask.shape == shape and mask.sum() == count
    per_output = mask.reshape(shape[0], -1).sum(1)
    per_input = mask.sum(axis=tuple(i for i in range(len(shape)) if i != 1))
    per_column = mask.reshape(shape[0], -1).sum(0)
    for counts in (per_output, per_input, per_column):
        assert counts.max() - counts.min() <= 1, counts


def test_magnitude_keeps_the_largest_initial_weights_of_each_layer():
    ctx = _ctx(0.95, families=["magnitude"], reference_share=1.0)  # no layer dense at 0.95
    masks = run_pruner("random_topology", ctx)
    for n, m in prunable_layers(ctx.model):
        w = m.weight.detach().abs()
        kept, dropped = w[masks[n]], w[~masks[n]]
        assert kept.numel() and dropped.numel()
        assert float(kept.min()) >= float(dropped.max()), n


@pytest.mark.parametrize("family", ["snip", "synflow"])
def test_score_families_keep_the_layers_top_scores(family):
    ctx = _ctx(0.95, families=[family], reference_share=1.0)
    masks = run_pruner("random_topology", ctx)
    if family == "snip":
        scores = snip_scores(_model(0), list(_batches()))
    else:
        scores = synflow_scores(_model(0), SHAPE)
    for n in masks:
        kept, dropped = scores[n][masks[n]], scores[n][~masks[n]]
        assert kept.numel() and dropped.numel()
        assert float(kept.min()) >= float(dropped.max()), n


def test_same_seed_same_masks_other_seed_other_masks():
    for seed in range(8):  # every family and allocation the first seeds draw
        a = run_pruner("random_topology", _ctx(0.9, seed))
        b = run_pruner("random_topology", _ctx(0.9, seed))
        c = run_pruner("random_topology", _ctx(0.9, seed + 100))
        assert all(torch.equal(a[n], b[n]) for n in a)
        assert any(not torch.equal(a[n], c[n]) for n in a)


@pytest.mark.parametrize("options, message", [
    ({"families": ["uniform", "lottery"]}, r"'families'.*uniform, magnitude"),
    ({"reference_share": 1.5}, r"'reference_share'.*\[0, 1\]"),
    ({"power": [2.0, 1.0]}, r"'power'.*range \[lo, hi\]"),
    ({"channel_fraction": [0.1, 1.5]}, r"'channel_fraction'"),
    ({"spread": True}, r"unknown option\(s\) \['spread'\]"),
])
def test_bad_options_fail_with_one_clear_message(options, message):
    with pytest.raises(ValueError, match=message):
        run_pruner("random_topology", _ctx(0.9, **options))


# ------------------------------------------------------------------------------------------ CONV-6 width

def test_conv6_width_multiplies_the_hidden_widths_and_one_is_the_paper_network():
    shapes = {n: tuple(m.weight.shape) for n, m in prunable_layers(build_model("conv6", SHAPE, 10, width=0.25))}
    assert list(shapes.values()) == [(16, 1, 3, 3), (16, 16, 3, 3), (32, 16, 3, 3), (32, 32, 3, 3), (64, 32, 3, 3),
                                     (64, 64, 3, 3), (64, 64), (64, 64), (10, 64)]
    torch.manual_seed(3)
    paper = build_model("conv6", SHAPE, 10)
    torch.manual_seed(3)
    one = build_model("conv6", SHAPE, 10, width=1)
    assert [tuple(m.weight.shape)[:2] for _, m in prunable_layers(paper)][:2] == [(64, 1), (64, 64)]
    assert all(torch.equal(a, b) for a, b in zip(paper.state_dict().values(), one.state_dict().values()))
    with pytest.raises(ValueError, match="width must be a number > 0"):
        build_model("conv6", SHAPE, 10, width=0)


# ------------------------------------------------------------------- the study: configs, no dense baselines

ROOT = Path(__file__).resolve().parents[1]


def _study(pilot: bool) -> dict:
    """The interventional study's config, with the pilot's file merged over it as Snakemake merges them."""
    cfg = yaml.safe_load((ROOT / "config" / "topology-intervention.yaml").read_text())
    if pilot:
        cfg.update(yaml.safe_load((ROOT / "config" / "topology-intervention-pilot.yaml").read_text()))
    return cfg


@pytest.mark.parametrize("pilot, generators", [(False, 160), (True, 20)])
def test_study_configs_are_valid_and_give_one_cluster_per_generator(pilot, generators, schema_path, tmp_path):
    from sparsetopo.config import validate_config
    from sparsetopo.stages.run import sparse_grid

    cfg = validate_config(_study(pilot), schema_path, base_dir=tmp_path)
    runs = sparse_grid(cfg)
    assert cfg["seeds"] == list(range(generators)) and not cfg["dense_baselines"]
    assert len(runs) == generators * len(cfg["sparsities"]) >= generators * 2
    assert {r.pruner for r in runs} == {"random_topology"} and {r.model for r in runs} == {"conv6"}
    assert cfg["analysis"]["cv"] == ["seed"] and cfg["claims"]["cv"] == "seed"


def test_the_pilot_plans_four_batches_and_no_dense_run(tmp_path):
    import subprocess

    from workflow_helpers import SNAKEMAKE, make_workdir

    workdir = make_workdir(tmp_path)
    dry = subprocess.run([*SNAKEMAKE, "-n", "--configfile", "config/topology-intervention.yaml",
                          "config/topology-intervention-pilot.yaml"], cwd=workdir, text=True, capture_output=True,
                         timeout=900)
    out = dry.stdout + dry.stderr
    assert dry.returncode == 0, out[-3000:]
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", out, re.M))
    batches = sorted(k for k in counts if k.startswith("runs_batch_"))
    assert batches == [f"runs_batch_{i}" for i in range(4)], counts  # 20 generators x 2 sparsities, 10 per job
    assert "train" not in counts and "metrics" not in counts and "/dense/" not in out


def test_collected_runs_without_dense_baselines_predict_accuracy(tmp_path):
    """No dense run: dense accuracy and accuracy drop are null, and the analyses' target is the accuracy."""
    from sparsetopo.analysis.features import base_runs
    from sparsetopo.collect import runs_table
    from sparsetopo.io import write_json

    paths = []
    for seed, accuracy in enumerate((0.91, 0.85, 0.1)):
        path = tmp_path / f"train{seed}.json"
        write_json(path, {"dataset": "mnist5k", "model": "conv6", "pruner": "random_topology", "sparsity": 0.99,
                          "seed": seed, "accuracy": accuracy, "density": 0.01, "failed": False})
        paths.append(path)
    runs = runs_table(paths, {"mnist5k": 10})
    assert runs["dense_accuracy"].is_null().all() and runs["accuracy_drop"].is_null().all()
    assert runs["collapsed"].to_list() == [False, False, True]  # 0.1 <= 1.2 x chance
    rows = base_runs({"multipartite": runs})
    assert set(rows["target"]) == {"accuracy"} and rows["y"].to_list() == [0.91, 0.85, 0.1]


def test_runs_in_batches_give_what_their_own_jobs_give(tmp_path):
    """runs_per_job 2: the 3 seeds of each cell (dense baselines included) in 2 jobs each; the dense runs are trained,
    not measured (as without batches); every artifact (masks,
    trained weights, graphs, metric tables, collected tables) is what its stage derives from its recorded inputs
    in a process of its own (``verify``)."""
    import subprocess

    import polars as pl

    from sparsetopo.verify import candidates, verify
    from workflow_helpers import SNAKEMAKE, make_workdir

    workdir = make_workdir(tmp_path)
    study = {"study": "batched", "datasets": ["digits"], "models": ["mlp"], "model_options": {"mlp": {"hidden": [16]}},
             "pruners": ["random_topology"], "sparsities": [0.8], "seeds": {"count": 3}, "runs_per_job": 2,
             "training": {"epochs": 1}, "encodings": ["multipartite", "rolled"], "metrics": {"ramanujan": False},
             "analyses": [], "claims": {"enabled": False}, "audit": {"sample": 0}, "drawing": {"enabled": False}}
    (workdir / "batched.yaml").write_text(yaml.safe_dump(study))
    proc = subprocess.run([*SNAKEMAKE, "--configfile", "batched.yaml", "--cores", "2", "results/batched/tables/runs.parquet"],
                          cwd=workdir, text=True, capture_output=True, timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    jobs = dict(re.findall(r"^(\w+)\s+(\d+)$", out, re.M))
    assert sorted(k for k in jobs if k.startswith("runs_batch_")) == [f"runs_batch_{i}" for i in range(4)], jobs
    assert "train" not in jobs and "metrics" not in jobs
    runs = pl.read_parquet(workdir / "results" / "batched" / "tables" / "runs.parquet")
    assert sorted(runs["pruner"].to_list()) == ["dense"] * 3 + ["random_topology"] * 3
    stages = {}
    for path in candidates(workdir / "results" / "batched"):
        verdict = verify(path)
        assert verdict.identical, (path, verdict.difference)
        stages[verdict.stage] = stages.get(verdict.stage, 0) + 1
    assert stages["prune"] == stages["train"] == 6 and stages["metrics"] == 6, stages  # 3 sparse runs x 2 tables


def test_accuracy_figure_without_dense_baselines_has_no_empty_drop_row(monkeypatch, tmp_path):
    import polars as pl

    from sparsetopo import plots

    import matplotlib.pyplot as plt

    panels = {}

    def record(fig, png, pdf=None):  # the panels with a y label, then the figure closed as save_figure does
        panels.setdefault("rows", [round(ax.get_position().y0, 3) for ax in fig.axes if ax.get_ylabel()])
        plt.close(fig)

    monkeypatch.setattr(plots, "save_figure", record)
    rows = [{"dataset": "mnist5k", "model": "conv6", "pruner": "random_topology", "sparsity": s, "seed": k,
             "accuracy": 0.9 - s + 0.01 * k, "failed": False, "relative_accuracy_drop": None}
            for s in (0.97, 0.98) for k in range(3)]
    plots.accuracy_vs_sparsity(pl.DataFrame(rows), tmp_path / "a.png")
    assert len(panels.pop("rows")) == 1  # accuracy only
    with_dense = [{**r, "relative_accuracy_drop": 0.05} for r in rows]
    with_dense.append({**rows[0], "pruner": "dense", "sparsity": 0.0, "relative_accuracy_drop": 0.0})
    plots.accuracy_vs_sparsity(pl.DataFrame(with_dense), tmp_path / "b.png")
    assert len(panels["rows"]) == 2  # accuracy and relative drop
    assert plt.get_fignums() == []
