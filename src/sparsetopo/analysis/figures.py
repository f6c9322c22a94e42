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

from ..plots import legend_beside, pruner_colours, pruner_lines, pruner_markers, save_figure, seeded_numpy  # noqa: E402

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
    fig, ax = plt.subplots(figsize=(9, 0.35 * len(order) + 1.5), layout="constrained")
    pdf_ = data.to_pandas()
    sns.boxplot(data=pdf_, y="metric", x="spearman_rho", hue="family", order=order, dodge=False, ax=ax,
                fliersize=0, palette="Set2")
    with seeded_numpy(0):  # the jitter: same tables, same bytes
        sns.stripplot(data=pdf_, y="metric", x="spearman_rho", order=order, color="0.25", size=2.5, ax=ax,
                      jitter=0.2)
    ax.axvline(0, color="0.5", lw=0.8)
    ax.set_xlim(-1, 1)
    ax.set_xlabel("Spearman ρ with accuracy (one point per model × dataset × sparsity)")
    ax.set_ylabel("")
    if ax.get_legend() is not None:  # beside the axes, not over the points
        sns.move_legend(ax, "upper left", bbox_to_anchor=(1.01, 1), title="family", fontsize=8)
    return _save(fig, png, pdf)


R2_LIMITS = (-1.0, 1.0)
VERDICT_COLOURS = {"supported": "#1a9850", "not supported": "#d73027", "inconclusive": "#7f7f7f"}


def _clipped(ax, xs, values, lows, highs, colour, marker="o", label=None, limits=R2_LIMITS, vertical=True):
    """Points with intervals clipped to ``limits``; points off the scale drawn as triangles on the edge."""
    values, lows, highs = (np.asarray(v, float) for v in (values, lows, highs))
    lo_lim, hi_lim = limits
    shown = np.clip(values, lo_lim, hi_lim)
    off = (values < lo_lim) | (values > hi_lim)
    err = np.vstack([np.clip(shown - np.clip(lows, lo_lim, hi_lim), 0, None),
                     np.clip(np.clip(highs, lo_lim, hi_lim) - shown, 0, None)])
    err = np.where(np.isfinite(err), err, 0)
    kw = dict(fmt="none", ecolor=colour, elinewidth=1.2, capsize=2)
    if vertical:
        ax.errorbar(xs, shown, yerr=err, **kw)
        ax.scatter(np.asarray(xs)[~off], shown[~off], color=colour, marker=marker, s=28, zorder=3, label=label)
        ax.scatter(np.asarray(xs)[off], shown[off], color=colour, marker="v", s=40, zorder=3)
        for x, v in zip(np.asarray(xs)[off], values[off]):
            ax.annotate(f"{v:.3g}", (x, lo_lim if v < lo_lim else hi_lim), fontsize=6, ha="center",
                        xytext=(0, 6 if v < lo_lim else -9), textcoords="offset points")
    else:
        ax.errorbar(shown, xs, xerr=err, **kw)
        ax.scatter(shown[~off], np.asarray(xs)[~off], color=colour, marker=marker, s=28, zorder=3, label=label)
        ax.scatter(shown[off], np.asarray(xs)[off], color=colour, marker="<", s=40, zorder=3)
        for y, v in zip(np.asarray(xs)[off], values[off]):
            ax.annotate(f"{v:.3g}", (lo_lim if v < lo_lim else hi_lim, y), fontsize=6, va="center",
                        xytext=(6 if v < lo_lim else -24, 0), textcoords="offset points")


def plot_accuracy_drop_prediction(results: pl.DataFrame, png, pdf=None, baseline: str = "cell") -> list[Path]:
    """A2: out-of-fold R² within cells (jackknife 95% intervals) of *baseline + feature set* per scope and CV
    scheme, with the R² of the non-topological baselines drawn as lines (the cell means score 0 by definition;
    their out-of-fold estimate lies below); the axis is clipped to [−1, 1] and points off it are drawn on the edge
    with their value."""
    data = results.filter(pl.col("model") == "all")
    if not data.height:
        return _empty(png, pdf, "no results")
    learner = data["learner"].unique(maintain_order=True)[0]
    data = data.filter(pl.col("learner") == learner)
    scopes = [s for s in ("pooled", "architecture", "sparsity") if s in data["scope"].to_list()]
    cvs = data["cv"].unique(maintain_order=True).to_list()
    sets = [f for f in ("multipartite", "rolled", "rolled_channel", "ramanujan") if f in data["feature_set"].to_list()]
    fig, axes = plt.subplots(len(scopes), len(cvs), figsize=(4.8 * len(cvs) + 2, 3.4 * len(scopes) + 0.6),
                             squeeze=False, sharey=True, layout="constrained")
    line_styles = {"arch+sparsity": "--", "cell": "-", "cell+density": "-.", "cell+pruner": ":"}
    for i, scope in enumerate(scopes):
        for j, cv in enumerate(cvs):
            ax = axes[i][j]
            sub = data.filter((pl.col("scope") == scope) & (pl.col("cv") == cv))
            for name, style in line_styles.items():
                base = sub.filter((pl.col("baseline") == name) & (pl.col("feature_set") == "none"))
                if base.height and base["r2"][0] is not None:
                    ax.axhline(np.clip(base["r2"][0], *R2_LIMITS), ls=style, color="0.35", lw=1,
                               label=f"baseline {name}")
            models = sub.filter(pl.col("baseline") == baseline)
            rows = [models.filter(pl.col("feature_set") == f) for f in sets]
            xs = [k for k, r in enumerate(rows) if r.height]
            if xs:
                pick = pl.concat([rows[k] for k in xs])
                _clipped(ax, xs, pick["r2"], pick["r2_low"], pick["r2_high"], "tab:blue",
                         label=f"{baseline} + feature set")
            ax.set_xticks(range(len(sets)))
            ax.set_xticklabels([name.replace("_", "\n") for name in sets], fontsize=8)
            ax.set_ylim(R2_LIMITS[0] - 0.05, R2_LIMITS[1] + 0.05)
            ax.axhline(0, color="0.8", lw=0.6)
            ax.set_title(f"{scope}, leave-one-{cv}-out", fontsize=9)
            if j == 0:
                ax.set_ylabel("out-of-fold R² within cells", fontsize=9)
    handles, labels = axes[0][-1].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=7, loc="outside lower center", ncols=2)  # below the panels
    fig.suptitle(f"A2: does topology add to sparsity and architecture? (target {data['target'][0]}, learner "
                 f"{learner})", fontsize=10)
    return _save(fig, png, pdf)


def plot_claims_prediction(claims: pl.DataFrame, png, pdf=None) -> list[Path]:
    """The prediction claims (T1, C1, C2): ΔR² of each comparison with its paired 95% interval, one row per
    comparison and scope, coloured by verdict; the axis is clipped to [−1, 1]."""
    data = claims.filter(pl.col("claim").is_in(["T1", "C1", "C2"]) & pl.col("estimate").is_not_null()
                         & pl.col("scope").str.contains(", leave-one-"))
    if not data.height:
        return _empty(png, pdf, "no prediction claims could be evaluated in this study")
    data = data.with_columns(pl.col("comparison").str.replace(r" \(ΔR².*$", "").alias("what"))
    fig, ax = plt.subplots(figsize=(10.5, 0.32 * data.height + 1.5), layout="constrained")
    labels = [f"{r['claim']}: {r['what']} | {r['scope']}" + (" *" if r["primary"] else "")
              for r in data.iter_rows(named=True)]
    ys = np.arange(data.height)[::-1]
    for verdict, colour in VERDICT_COLOURS.items():
        rows = np.flatnonzero((data["verdict"] == verdict).to_numpy())
        if len(rows):
            _clipped(ax, ys[rows], data["estimate"].to_numpy()[rows], data["ci_low"].to_numpy()[rows],
                     data["ci_high"].to_numpy()[rows], colour, label=verdict, vertical=False)
    ax.axvline(0, color="0.4", lw=0.8)
    ax.set_yticks(ys)
    ax.set_yticklabels(labels, fontsize=7)
    ax.set_xlim(R2_LIMITS[0] - 0.1, R2_LIMITS[1] + 0.1)
    ax.set_xlabel("ΔR² within cells (paired, out of fold; 95% jackknife interval with refits)   * primary rows")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), title="verdict")  # beside the rows
    ax.set_title("Prediction claims: each comparison on the same rows, folds and resamples", fontsize=10)
    return _save(fig, png, pdf)


def plot_metric_importance(importance: pl.DataFrame, png, pdf=None, concordance: pl.DataFrame | None = None) -> (
        list[Path]):
    """A3: heatmaps of the partial Spearman ρ of each metric with the target, per sparsity level and per
    architecture (first feature set), titled with the concordance test (Kendall's W vs random regrouping)."""
    if not importance.height:
        return _empty(png, pdf, "no importances")
    fs = importance["feature_set"][0]
    data = importance.filter(pl.col("feature_set") == fs)
    groupings = [g for g in ("sparsity", "architecture") if g in data["grouping"].to_list()]
    widths = [max(2.5, 0.45 * data.filter(pl.col("grouping") == g)["group"].n_unique() + 1) for g in groupings]
    n_features = data["feature"].n_unique()
    fig, axes = plt.subplots(1, len(groupings), figsize=(sum(widths) + 3, 0.32 * n_features + 2), squeeze=False,
                             gridspec_kw={"width_ratios": widths}, layout="constrained")
    for ax, grouping in zip(axes[0], groupings):
        sub = data.filter(pl.col("grouping") == grouping)
        table = sub.pivot(on="group", index="feature", values="spearman_rho").to_pandas().set_index("feature")
        sns.heatmap(table, ax=ax, cmap="RdBu_r", vmin=-1, vmax=1, center=0, annot=n_features <= 20, fmt=".2f",
                    annot_kws={"fontsize": 6}, cbar=ax is axes[0][-1])
        title = f"per {grouping}"
        if concordance is not None and concordance.height:
            test = concordance.filter((pl.col("grouping") == grouping) & (pl.col("feature_set") == fs))
            if test.height:
                t = test.row(0, named=True)
                title += f"\nW = {t['kendall_w']:.2f} (random regrouping {t['null_median']:.2f}), p = {t['p_value']:.3g}"
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("")
        ax.set_ylabel("" if ax is not axes[0][0] else f"{fs} metric")
        ax.tick_params(axis="x", rotation=45, labelsize=7)
        ax.tick_params(axis="y", labelsize=7)
    fig.suptitle("A3: partial Spearman ρ with the target (centred within model × dataset × sparsity)", fontsize=10)
    return _save(fig, png, pdf)


def plot_pai_ranking(ranking: pl.DataFrame, png, pdf=None) -> list[Path]:
    """A4: Kendall τ between true and predicted rankings of pruners, per ranker (one point per group)."""
    data = ranking.filter(pl.col("kendall_tau").is_not_null())
    if not data.height:
        return _empty(png, pdf, "no rankings")
    order = (data.group_by("ranker").agg(pl.col("kendall_tau").mean()).sort("kendall_tau", descending=True)
             ["ranker"].to_list())
    fig, ax = plt.subplots(figsize=(9, 0.5 * len(order) + 1.5), layout="constrained")
    pdf_ = data.to_pandas()
    sns.boxplot(data=pdf_, y="ranker", x="kendall_tau", order=order, ax=ax, color="0.85", fliersize=0)
    with seeded_numpy(0):  # the jitter: same tables, same bytes
        sns.stripplot(data=pdf_, y="ranker", x="kendall_tau", hue="model", order=order, ax=ax, size=3, jitter=0.2)
    ax.axvline(0, color="0.5", lw=0.8)
    ax.set_xlim(-1.05, 1.05)
    ax.set_xlabel("Kendall τ with the true ranking of pruners (one point per model × dataset × sparsity)")
    ax.set_ylabel("")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), title="model")
    return _save(fig, png, pdf)


def plot_accuracy_by_pruner(runs: pl.DataFrame, png, pdf=None) -> list[Path]:
    """Accuracy (mean ± sd over seeds) vs sparsity, one line (colour and marker) per pruner, one panel per
    (model, dataset)."""
    if not runs.height:
        return _empty(png, pdf, "no runs")
    data = _arch(runs).sort(["architecture", "pruner", "sparsity"]).to_pandas()
    archs = sorted(data["architecture"].unique())
    cols = min(3, len(archs))
    rows = -(-len(archs) // cols)
    colours, markers = pruner_colours(data["pruner"]), pruner_markers(data["pruner"])
    fig, axes = plt.subplots(rows, cols, figsize=(3.7 * cols + 1.6, 2.9 * rows), squeeze=False,
                             layout="constrained")
    for k, ax in enumerate(axes.flat):
        if k >= len(archs):
            ax.axis("off")
            continue
        pruner_lines(ax, data[data["architecture"] == archs[k]], "accuracy", colours, markers, legend=(k == 0))
        ax.set_title(archs[k], fontsize=9)
    legend_beside(fig, axes.flat[0])
    return _save(fig, png, pdf)


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
    ax.set_xticklabels([f"{n}\n({s})" for n, s in zip(graph.part_names, sizes)], rotation=45, fontsize=7,
                       ha="right", rotation_mode="anchor")
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


def plot_cluster_contributions(contributions: pl.DataFrame, png, pdf=None) -> list[Path]:
    """Each cluster's share of the ΔR² of every primary prediction comparison (its ΔSSE over the within-cell
    SST; the shares add up to the comparison's ΔR²), so that a verdict carried by one or two pruners is seen."""
    data = contributions.filter(pl.col("primary"))
    if not data.height:
        return _empty(png, pdf, "no primary prediction comparison in this study")
    keys = data.select("claim", "key").unique(maintain_order=True).rows()
    clusters = sorted(data["cluster"].unique().to_list())
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(keys) + 1.6))
    ys = np.arange(len(keys))[::-1]
    height = 0.8 / max(1, min(len(clusters), 40))
    many = len(clusters) > 40  # a study of many generators: their shares as dots, not bars
    palette = sns.color_palette("husl", max(1, min(len(clusters), 40)))
    for y, (claim, key) in zip(ys, keys):
        sub = data.filter((pl.col("claim") == claim) & (pl.col("key") == key))
        shares = dict(zip(sub["cluster"].to_list(), sub["delta_r2_share"].to_list()))
        if many:
            values = np.array(list(shares.values()))
            ax.scatter(values, np.full(len(values), y), s=6, color="tab:blue", alpha=0.5)
        else:
            for k, cluster in enumerate(clusters):
                if cluster in shares:
                    ax.barh(y - 0.4 + (k + 0.5) * height, shares[cluster], height=height, color=palette[k],
                            label=cluster if y == ys[0] else None)
        ax.plot(sum(shares.values()), y, marker="D", color="black", ms=5, zorder=3)
    ax.axvline(0, color="0.4", lw=0.8)
    ax.set_yticks(ys)
    ax.set_yticklabels([f"{c} {k}" for c, k in keys], fontsize=8)
    ax.set_xlabel("share of ΔR² within cells carried by each cluster (◆ = the comparison's ΔR²)")
    if not many:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), title="cluster", title_fontsize=7)
    ax.set_title("Who carries each primary comparison: contributions by cluster", fontsize=10)
    return _save(fig, png, pdf)
