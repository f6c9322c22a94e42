"""Figures of the analyses (seaborn, matplotlib Agg backend): one function per figure, each writing PNG + PDF.

Every function takes polars tables and an output path (the ``.png``; the ``.pdf`` goes beside it unless
``pdf`` is given) and returns the paths written.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
import seaborn as sns  # noqa: E402

from ..plots import save_figure  # noqa: E402

MAX_DRAWN_EDGES = 20_000
MAIN_TOPOMETRICS = ("sink_nodes_norm", "source_nodes_norm", "removable_out_edges_norm", "one_hop_norm",
                    "two_hop_norm", "motifs4_norm", "strength_norm", "k_core_norm", "cut_edges_norm", "components",
                    "spectral_gap_paper", "spectral_radius")


def _save(fig, png: str | os.PathLike, pdf: str | os.PathLike | None = None) -> list[Path]:
    return save_figure(fig, png, pdf)  # PNG + PDF (beside the PNG unless given), metadata stripped


def _empty(png, pdf, message: str) -> list[Path]:
    fig, ax = plt.subplots(figsize=(5, 2))
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center")
    return _save(fig, png, pdf)


def _arch(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.concat_str(["model", "dataset"], separator=" / ").alias("architecture"))


def plot_ramanujan_vs_density(correlations: pl.DataFrame, png, pdf=None) -> list[Path]:
    """A1: Spearman ρ of accuracy with each Ramanujan and density summary, over (model, dataset, sparsity) groups."""
    data = correlations.filter(pl.col("spearman_rho").is_not_null())
    if not data.height:
        return _empty(png, pdf, "no correlations")
    order = data.sort(["family", "metric"])["metric"].unique(maintain_order=True).to_list()
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(order) + 1.5))
    pdf_ = data.to_pandas()
    sns.boxplot(data=pdf_, y="metric", x="spearman_rho", hue="family", order=order, dodge=False, ax=ax,
                fliersize=0, palette="Set2")
    sns.stripplot(data=pdf_, y="metric", x="spearman_rho", order=order, color="0.25", size=2.5, ax=ax,
                  jitter=0.2)
    ax.axvline(0, color="0.5", lw=0.8)
    ax.set_xlim(-1, 1)
    ax.set_xlabel("Spearman ρ with accuracy (one point per model × dataset × sparsity)")
    ax.set_ylabel("")
    return _save(fig, png, pdf)


def plot_accuracy_drop_prediction(results: pl.DataFrame, png, pdf=None) -> list[Path]:
    """A2: out-of-fold R² per feature set and learner; pooled (with 95% bootstrap interval) and per architecture."""
    if not results.height:
        return _empty(png, pdf, "no results")
    data = results.with_columns(pl.col("r2").clip(-1, 1).alias("r2 (clipped at -1)"))
    cvs = data["cv"].unique(maintain_order=True).to_list()
    fig, axes = plt.subplots(1, len(cvs), figsize=(6 * len(cvs), 4.5), squeeze=False, sharey=True)
    order = data["feature_set"].unique(maintain_order=True).to_list()
    for ax, cv in zip(axes[0], cvs):
        sub = data.filter(pl.col("cv") == cv)
        arch = sub.filter(pl.col("scope") == "architecture").to_pandas()
        if len(arch):
            sns.stripplot(data=arch, x="feature_set", y="r2 (clipped at -1)", hue="learner", order=order, dodge=True,
                          alpha=0.5, size=3, ax=ax, palette="Set1", legend=False)
        pooled = sub.filter(pl.col("scope") == "pooled")
        for i, learner in enumerate(sorted(sub["learner"].unique().to_list())):
            rows = pooled.filter(pl.col("learner") == learner)
            if not rows.height:
                continue
            xs = np.array([order.index(f) for f in rows["feature_set"]]) + (i - 0.5) * 0.4
            r2 = rows["r2"].to_numpy()
            lo, hi = rows["r2_low"].to_numpy(), rows["r2_high"].to_numpy()
            ax.errorbar(xs, r2, yerr=[r2 - lo, hi - r2], fmt="D", color=sns.color_palette("Set1")[i], ms=6,
                        mec="k", label=f"{learner} (pooled, 95% CI)")
        ax.set_title(f"leave-one-{cv}-out")
        ax.set_xlabel("feature set")
        ax.axhline(0, color="0.5", lw=0.8)
        ax.tick_params(axis="x", rotation=30)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8, loc="lower left")
    axes[0][0].set_ylabel(f"out-of-fold R² ({data['target'][0]}); dots: one (model, dataset)")
    return _save(fig, png, pdf)


def plot_metric_importance(importance: pl.DataFrame, png, pdf=None) -> list[Path]:
    """A3: heatmap of held-out permutation importance (R² drop), features × groups, per feature set."""
    if not importance.height:
        return _empty(png, pdf, "no importances")
    data = importance.with_columns(
        pl.when(pl.col("scope") == "architecture")
        .then(pl.concat_str(["model", "dataset"], separator=" / "))
        .otherwise(pl.format("sparsity {}", pl.col("sparsity"))).alias("group"))
    sets = data["feature_set"].unique(maintain_order=True).to_list()
    heights = [max(2.5, 0.3 * data.filter(pl.col("feature_set") == s)["feature"].n_unique() + 1.5) for s in sets]
    fig, axes = plt.subplots(len(sets), 1, figsize=(12, sum(heights) + 2 * len(sets)), squeeze=False,
                             gridspec_kw={"height_ratios": heights}, layout="constrained")
    for ax, fs in zip(axes[:, 0], sets):
        sub = data.filter(pl.col("feature_set") == fs)
        groups = sub["group"].unique(maintain_order=True).to_list()
        table = (sub.pivot(on="group", index="feature", values="permutation_importance", aggregate_function="first")
                 .select(["feature"] + groups))
        mat = table.drop("feature").to_numpy().astype(float)
        sns.heatmap(mat, ax=ax, cmap="viridis", xticklabels=groups, yticklabels=table["feature"].to_list(),
                    cbar_kws={"label": "permutation importance (R² drop)"})
        ax.set_title(f"feature set: {fs} (target: {sub['target'][0]})")
        ax.tick_params(axis="x", rotation=60, labelsize=7)
    return _save(fig, png, pdf)


def plot_pai_ranking(ranking: pl.DataFrame, png, pdf=None) -> list[Path]:
    """A4: Kendall τ between true and predicted rankings of pruners, per ranker (one point per group)."""
    data = ranking.filter(pl.col("kendall_tau").is_not_null())
    if not data.height:
        return _empty(png, pdf, "no rankings")
    order = (data.group_by("ranker").agg(pl.col("kendall_tau").mean()).sort("kendall_tau", descending=True)
             ["ranker"].to_list())
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(order) + 1.5))
    pdf_ = data.to_pandas()
    sns.boxplot(data=pdf_, y="ranker", x="kendall_tau", order=order, ax=ax, color="0.85", fliersize=0)
    sns.stripplot(data=pdf_, y="ranker", x="kendall_tau", hue="model", order=order, ax=ax, size=3, jitter=0.2)
    ax.axvline(0, color="0.5", lw=0.8)
    ax.set_xlim(-1.05, 1.05)
    ax.set_xlabel("Kendall τ with the true ranking of pruners (one point per model × dataset × sparsity)")
    ax.set_ylabel("")
    ax.legend(fontsize=7, loc="lower left")
    return _save(fig, png, pdf)


def plot_accuracy_by_pruner(runs: pl.DataFrame, png, pdf=None) -> list[Path]:
    """Accuracy (mean ± sd over seeds) vs sparsity, one line per pruner, one panel per (model, dataset)."""
    if not runs.height:
        return _empty(png, pdf, "no runs")
    data = _arch(runs).sort(["architecture", "pruner", "sparsity"]).to_pandas()
    archs = sorted(data["architecture"].unique())
    cols = min(3, len(archs))
    grid = sns.FacetGrid(data, col="architecture", col_wrap=cols, col_order=archs, sharey=False, height=2.8,
                         aspect=1.3, hue="pruner", hue_order=sorted(data["pruner"].unique()))
    grid.map_dataframe(sns.lineplot, x="sparsity", y="accuracy", errorbar="sd", marker="o", markersize=3)
    grid.add_legend(title="pruner")
    grid.set_titles("{col_name}")
    return _save(grid.figure, png, pdf)


def plot_topometric_distributions(multipartite: pl.DataFrame, png, pdf=None,
                                  metrics: Sequence[str] = MAIN_TOPOMETRICS) -> list[Path]:
    """Box plots of the main multipartite topometrics per pruner (all architectures and sparsities)."""
    metrics = [m for m in metrics if m in multipartite.columns and multipartite[m].is_not_null().any()]
    if not metrics or not multipartite.height:
        return _empty(png, pdf, "no topometrics")
    long = (multipartite.select(["pruner"] + metrics).with_columns(pl.col(metrics).cast(pl.Float64))
            .unpivot(index="pruner", on=metrics, variable_name="metric", value_name="value")
            .filter(pl.col("value").is_not_null() & pl.col("value").is_finite()))
    data = long.to_pandas()
    grid = sns.FacetGrid(data, col="metric", col_wrap=4, col_order=metrics, sharex=False, height=2.6, aspect=1.2)
    order = sorted(data["pruner"].unique())
    grid.map_dataframe(sns.boxplot, x="value", y="pruner", order=order, fliersize=1, color="0.8", linewidth=0.6)
    for ax, metric in zip(grid.axes.flat, metrics):
        values = long.filter(pl.col("metric") == metric)["value"]
        if values.len() and values.min() > 0 and values.max() / values.min() > 1e3:
            ax.set_xscale("log")
        else:
            ax.ticklabel_format(axis="x", style="sci", scilimits=(-3, 4))
    grid.set_titles("{col_name}")
    return _save(grid.figure, png, pdf)


def draw_multipartite(graph, path: str | os.PathLike, pdf: str | os.PathLike | None = None,
                      max_edges: int = MAX_DRAWN_EDGES, seed: int = 0) -> list[Path]:
    """Draw a multipartite graph (``sparsetopo.graph.Graph``): parts as columns, nodes as points, edges as thin
    lines (a deterministic subsample of ``max_edges`` edges when there are more; the title says so)."""
    from matplotlib.collections import LineCollection

    sizes = np.asarray(graph.part_sizes, dtype=np.int64)
    offsets = np.asarray(graph.part_offsets, dtype=np.int64)
    part = np.repeat(np.arange(len(sizes)), sizes)
    local = np.arange(graph.num_nodes) - offsets[part]
    y = np.where(sizes[part] > 1, local / np.maximum(sizes[part] - 1, 1), 0.5)
    x = part.astype(float)
    edges = np.arange(graph.num_edges)
    if graph.num_edges > max_edges:
        edges = np.sort(np.random.default_rng(seed).choice(graph.num_edges, size=max_edges, replace=False))
    src, dst = graph.src[edges], graph.dst[edges]
    segments = np.stack([np.column_stack([x[src], y[src]]), np.column_stack([x[dst], y[dst]])], axis=1)
    fig, ax = plt.subplots(figsize=(max(4, 1.2 * len(sizes)), 5))
    weights = np.asarray(graph.weight)[edges]
    alpha = 0.15 if len(edges) > 2000 else 0.5
    lines = LineCollection(segments, linewidths=0.3, colors="tab:blue", alpha=alpha)
    ax.add_collection(lines)
    ax.scatter(x, y, s=max(0.5, 200 / max(1, sizes.max())), c="k", zorder=3, linewidths=0)
    ax.set_xticks(np.arange(len(sizes)))
    ax.set_xticklabels([f"{n}\n({s})" for n, s in zip(graph.part_names, sizes)], rotation=45, fontsize=7)
    ax.set_yticks([])
    ax.set_xlim(-0.5, len(sizes) - 0.5)
    ax.set_ylim(-0.05, 1.05)
    shown = f"{len(edges):,} of {graph.num_edges:,} edges" if len(edges) < graph.num_edges else \
        f"{graph.num_edges:,} edges"
    ax.set_title(f"{graph.name}: {graph.num_nodes:,} nodes, {shown}" + (f"; mean |w| {weights.mean():.3g}"
                                                                      if len(weights) else ""))
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    return _save(fig, path, pdf)
