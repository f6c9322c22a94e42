"""Figures of the study's own runs (seaborn; one function per figure; PNG and PDF), and :func:`save_figure`, the
figure writer that every figure of the library goes through."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import polars as pl  # noqa: E402
import seaborn as sns  # noqa: E402

from .io import atomic_path  # noqa: E402

_PNG_METADATA = {"Software": None}
_PDF_METADATA = {"Creator": None, "Producer": None, "CreationDate": None}

MAIN_TOPOMETRICS = ["sink_nodes_norm", "removable_in_edges_norm", "two_hop_norm", "strength_norm", "k_core_norm",
                    "cut_edges_norm", "components", "spectral_radius"]


def pruner_colours(pruners) -> dict[str, tuple]:
    """One colour per pruner (sorted names), the same in every panel of a figure, whichever pruners a panel has."""
    names = sorted(set(pruners))
    return dict(zip(names, sns.color_palette(n_colors=len(names))))


def save_figure(fig, png: str | Path, pdf: str | Path | None = None) -> list[Path]:
    """Save ``fig`` as PNG and PDF (``pdf`` defaults to the PNG's path with ``.pdf``), each atomically, without the
    date and software metadata, so that the same data give the same bytes; closes ``fig``; returns the paths.

    The one figure writer of the library: every figure function calls it."""
    png = Path(png)
    pdf = Path(pdf) if pdf else png.with_suffix(".pdf")
    written = []
    try:
        for path, fmt in ((png, "png"), (pdf, "pdf")):
            metadata = _PNG_METADATA if fmt == "png" else _PDF_METADATA
            with atomic_path(path) as tmp:
                fig.savefig(tmp, format=fmt, dpi=150, bbox_inches="tight", metadata=metadata)
            written.append(path)
    finally:
        plt.close(fig)
    return written


def accuracy_vs_sparsity(runs: pl.DataFrame, png: str | Path, pdf: str | Path | None = None) -> None:
    """Accuracy and relative accuracy drop against sparsity, one line per pruner, one column per model
    (rows: accuracy, drop; mean over seeds with 95% CI); the dense accuracy as a dashed line. Without dense
    baselines (config ``dense_baselines: false``) only the accuracy row."""
    sparse = runs.filter((pl.col("pruner") != "dense") & ~pl.col("failed")).to_pandas()
    dense = runs.filter(pl.col("pruner") == "dense").group_by("dataset", "model").agg(pl.col("accuracy").mean())
    models = sorted(sparse["model"].unique())
    colours = pruner_colours(sparse["pruner"])
    rows = [("accuracy", "test accuracy")]
    if sparse["relative_accuracy_drop"].notna().any():
        rows.append(("relative_accuracy_drop", "relative accuracy drop"))
    fig, axes = plt.subplots(len(rows), len(models), figsize=(4.2 * len(models), 3.5 * len(rows)), squeeze=False,
                             sharex=True, layout="constrained")
    for j, model in enumerate(models):
        part = sparse[sparse["model"] == model]
        for i, (column, label) in enumerate(rows):
            ax = axes[i][j]
            sns.lineplot(data=part, x="sparsity", y=column, hue="pruner", hue_order=list(colours), palette=colours,
                         style="dataset" if part["dataset"].nunique() > 1 else None, marker="o",
                         errorbar=("ci", 95), ax=ax, legend=(i == 0 and j == len(models) - 1))
            if column == "accuracy":
                for value in dense.filter(pl.col("model") == model)["accuracy"]:
                    ax.axhline(value, ls="--", color="grey", lw=1)
            ax.set_title(model if i == 0 else "")
            ax.set_ylabel(label)
    if axes[0][-1].get_legend() is not None:
        sns.move_legend(axes[0][-1], "upper left", bbox_to_anchor=(1.02, 1))
    fig.suptitle("Sparse networks: accuracy and accuracy drop vs sparsity (dashed: dense baseline)" if len(rows) > 1
                 else "Sparse networks: accuracy vs sparsity (no dense baseline)")
    save_figure(fig, png, pdf)


def topometrics_vs_sparsity(table: pl.DataFrame, png: str | Path, pdf: str | Path | None = None,
                            metrics: Sequence[str] = MAIN_TOPOMETRICS) -> None:
    """Main end-to-end topometrics of the multipartite encoding against sparsity, one line per pruner;
    one row per metric, one column per model."""
    present = [m for m in metrics if m in table.columns]
    data = table.filter(~pl.col("failed").fill_null(False)).to_pandas()
    models = sorted(data["model"].unique())
    colours = pruner_colours(data["pruner"])
    fig, axes = plt.subplots(len(present), len(models), figsize=(4 * len(models), 2.6 * len(present)),
                             squeeze=False, sharex=True, layout="constrained")
    for j, model in enumerate(models):
        part = data[data["model"] == model]
        for i, metric in enumerate(present):
            ax = axes[i][j]
            sns.lineplot(data=part, x="sparsity", y=metric, hue="pruner", hue_order=list(colours), palette=colours,
                         marker="o", errorbar=("ci", 95), ax=ax, legend=(i == 0 and j == len(models) - 1))
            ax.set_title(model if i == 0 else "")
    if axes[0][-1].get_legend() is not None:
        sns.move_legend(axes[0][-1], "upper left", bbox_to_anchor=(1.02, 1))
    fig.suptitle("Topometrics of the multipartite encoding vs sparsity")
    save_figure(fig, png, pdf)
