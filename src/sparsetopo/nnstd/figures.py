"""NNSTD figures (seaborn): heatmaps of a pairs table over epochs, and NNSTD between seeds of a study's runs beside
their accuracies. Written through :func:`sparsetopo.plots.save_figure` (PNG + PDF, reproducible bytes)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import polars as pl  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from ..plots import pruner_colours, pruner_markers, save_figure  # noqa: E402
from .tables import matrix_from_pairs  # noqa: E402


def plot_nnstd_heatmaps(frame: pl.DataFrame, png: str | os.PathLike, pdf: str | os.PathLike | None = None,
                        layers: Sequence[str] = ("0", "mean"), title: str = "NNSTD") -> list[Path]:
    """Grid of NNSTD heatmaps (rows = layers, columns = epochs), colour scale 0..1, each panel annotated
    with the random-null baseline."""
    epochs = sorted(frame["epoch"].unique().to_list())
    fig, axes = plt.subplots(len(layers), len(epochs), figsize=(2.6 * len(epochs) + 1, 2.6 * len(layers) + 0.6),
                             squeeze=False, constrained_layout=True)
    for r, layer in enumerate(layers):
        for c, epoch in enumerate(epochs):
            ax = axes[r][c]
            matrix, names = matrix_from_pairs(frame, epoch, layer)
            null = frame.filter((pl.col("epoch") == epoch) & (pl.col("layer") == layer))["null"]
            labels = [n.rsplit("_", 1)[-1] for n in names]
            sns.heatmap(matrix, vmin=0, vmax=1, cmap="viridis", square=True, ax=ax, cbar=c == len(epochs) - 1,
                        xticklabels=labels, yticklabels=labels)
            ax.tick_params(labelsize=6)
            what = "network mean" if layer == "mean" else f"layer {layer}"
            ax.set_title(f"epoch {epoch}, {what}\nnull {float(null[0]):.3f}" if len(null) else
                         f"epoch {epoch}, {what}", fontsize=8)
    fig.suptitle(f"{title} (null = independent random masks of equal density)", fontsize=10)
    return save_figure(fig, png, pdf)


def plot_seed_pairs(pairs: pl.DataFrame, png: str | os.PathLike, pdf: str | os.PathLike | None = None
                    ) -> list[Path]:
    """NNSTD between seeds of the same (pruner, density) against density (the ``pairs`` table of
    :func:`~sparsetopo.nnstd.runs.seed_pairs`: network mean; points = seed pairs, solid line = their mean, dashed =
    the random null of the same densities), beside the accuracies of those runs (mean and standard deviation over
    seeds); one row per (dataset, model)."""
    mean = pairs.with_columns((1 - pl.col("sparsity")).alias("density"))
    if not mean.height:
        fig, ax = plt.subplots(figsize=(6, 2))
        ax.axis("off")
        ax.text(0.5, 0.5, "no seed pairs: NNSTD between runs needs at least two seeds per\n"
                "(dataset, model, pruner, sparsity)", ha="center", va="center")
        return save_figure(fig, png, pdf)
    accuracy = pl.concat([
        mean.select(*[pl.col(k) for k in ("dataset", "model", "pruner", "density")],
                    pl.col(f"seed_{side}").alias("seed"), pl.col(f"accuracy_{side}").alias("accuracy"))
        for side in ("a", "b")]).unique().sort(["dataset", "model", "pruner", "density", "seed"])
    archs = mean.select("dataset", "model").unique().sort(["dataset", "model"]).rows()
    pruners = sorted(mean["pruner"].unique().to_list())
    palette, markers = pruner_colours(pruners), pruner_markers(pruners)
    fig, axes = plt.subplots(len(archs), 2, figsize=(11.5, 3.6 * len(archs)), squeeze=False, layout="constrained")
    for r, (dataset, model) in enumerate(archs):
        part = mean.filter((pl.col("dataset") == dataset) & (pl.col("model") == model)).sort(["pruner", "density"])
        left, right = axes[r]
        data = part.to_pandas()
        sns.scatterplot(data=data, x="density", y="nnstd", hue="pruner", palette=palette, ax=left, legend=False,
                        s=18, alpha=0.6)
        sns.lineplot(data=data, x="density", y="nnstd", hue="pruner", palette=palette, ax=left, errorbar=None,
                     style="pruner", markers=markers, dashes=False, legend=False)
        sns.lineplot(data=data, x="density", y="null_nnstd", hue="pruner", palette=palette, ax=left, errorbar=None,
                     linestyle="--", legend=False)
        left.set_ylim(0, 1)
        left.set_ylabel("NNSTD between seeds (network mean)")
        left.set_title(f"{model} / {dataset}: topology distance", fontsize=9)
        acc = accuracy.filter((pl.col("dataset") == dataset) & (pl.col("model") == model)).to_pandas()
        sns.lineplot(data=acc, x="density", y="accuracy", hue="pruner", palette=palette, ax=right,
                     style="pruner", markers=markers, dashes=False, errorbar="sd", legend=False)
        right.set_ylabel("test accuracy (mean ± sd over seeds)")
        right.set_title(f"{model} / {dataset}: accuracy of the same runs", fontsize=9)
        densities = sorted(part["density"].unique().to_list())
        for ax in (left, right):
            ax.set_xscale("log")
            ax.set_xticks(densities, [f"{d:g}" for d in densities])
            ax.minorticks_off()
            ax.set_xlabel("density (1 − sparsity)")
    handles = [Line2D([], [], color=palette[p], marker=markers[p], label=p) for p in pruners]
    handles.append(Line2D([], [], color="0.4", linestyle="--", label="random null"))
    fig.legend(handles=handles, fontsize=7, loc="outside right upper", title="pruner")  # beside the panels
    fig.suptitle("Different seeds: how far apart their final topologies are, and how close their accuracies", fontsize=10)
    return save_figure(fig, png, pdf)
