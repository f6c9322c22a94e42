"""Figures of the study's own runs (seaborn; one function per figure; PNG and PDF), and :func:`save_figure`, the
figure writer that every figure of the library goes through."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
import seaborn as sns  # noqa: E402

from .io import atomic_path  # noqa: E402

_PNG_METADATA = {"Software": None}
_PDF_METADATA = {"Creator": None, "Producer": None, "CreationDate": None}

MAIN_TOPOMETRICS = ["sink_nodes_norm", "removable_in_edges_norm", "two_hop_norm", "strength_norm", "k_core_norm",
                    "cut_edges_norm", "components", "spectral_radius"]


#: 12 colours that stay apart on a white background (matplotlib's tab10, black, magenta), so that the 12 pruners
#: of config/paper.yaml get 12 colours; beyond 12 the hues of seaborn's husl palette are added
PRUNER_PALETTE = [*sns.color_palette("tab10"), (0.0, 0.0, 0.0), (1.0, 0.0, 1.0)]
#: one marker per pruner as well (a second cue, for prints in grey and readers with colour-vision deficiencies)
PRUNER_MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "p", "h"]


def pruner_colours(pruners) -> dict[str, tuple]:
    """One colour per pruner (sorted names), the same in every panel of a figure, whichever pruners a panel has;
    12 distinct colours (:data:`PRUNER_PALETTE`) before any repeats."""
    names = sorted(set(pruners))
    extra = sns.color_palette("husl", max(0, len(names) - len(PRUNER_PALETTE)))
    return dict(zip(names, [*PRUNER_PALETTE, *extra]))


def pruner_markers(pruners) -> dict[str, str]:
    """One marker per pruner (sorted names, as :func:`pruner_colours`), cycling after 12."""
    names = sorted(set(pruners))
    return {name: PRUNER_MARKERS[i % len(PRUNER_MARKERS)] for i, name in enumerate(names)}


@contextlib.contextmanager
def seeded_numpy(seed: int = 0):
    """Seed numpy's global generator for the block and restore its state after: seaborn's strip-plot jitter draws
    from it, so that the same tables give the same figure bytes."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


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


def _architectures(frame) -> list[tuple[str, str]]:
    """The (model, dataset) pairs of a pandas frame, sorted: one column of panels each."""
    return sorted(set(zip(frame["model"], frame["dataset"])))


def pruner_lines(ax, data, y: str, colours: dict, markers: dict, legend: bool = False) -> None:
    """One line per pruner of ``y`` against sparsity: mean over seeds, band ± one standard deviation over seeds
    (none with one seed), the pruner's colour and marker."""
    sns.lineplot(data=data, x="sparsity", y=y, hue="pruner", hue_order=list(colours), palette=colours,
                 style="pruner", style_order=list(colours), markers=markers, dashes=False, markersize=6,
                 errorbar="sd", ax=ax, legend=legend)


def legend_beside(fig, ax, title: str = "pruner") -> None:
    """Move the legend that ``ax`` drew beside the figure's panels (right, outside: it covers no data; the figure
    needs ``layout="constrained"``)."""
    legend = ax.get_legend()
    if legend is not None:
        handles, labels = legend.legend_handles, [t.get_text() for t in legend.get_texts()]
        legend.remove()
        fig.legend(handles, labels, title=title, loc="outside right upper", fontsize=8)


def accuracy_vs_sparsity(runs: pl.DataFrame, png: str | Path, pdf: str | Path | None = None) -> None:
    """Accuracy and relative accuracy drop against sparsity, one line (colour and marker) per pruner, one column per
    (model, dataset) (rows: accuracy, drop; mean over seeds, band ± one standard deviation over seeds); the dense
    accuracy of each seed as a dashed line. Without dense baselines (config ``dense_baselines: false``) only the
    accuracy row."""
    sparse = runs.filter((pl.col("pruner") != "dense") & ~pl.col("failed")).to_pandas()
    dense = runs.filter(pl.col("pruner") == "dense")
    archs = _architectures(sparse)
    colours, markers = pruner_colours(sparse["pruner"]), pruner_markers(sparse["pruner"])
    rows = [("accuracy", "test accuracy")]
    if sparse["relative_accuracy_drop"].notna().any():
        rows.append(("relative_accuracy_drop", "relative accuracy drop"))
    fig, axes = plt.subplots(len(rows), len(archs), figsize=(4.2 * len(archs) + 1.5, 3.5 * len(rows)), squeeze=False,
                             sharex=True, layout="constrained")
    for j, (model, dataset) in enumerate(archs):
        part = sparse[(sparse["model"] == model) & (sparse["dataset"] == dataset)]
        for i, (column, label) in enumerate(rows):
            ax = axes[i][j]
            pruner_lines(ax, part, column, colours, markers, legend=(i == 0 and j == len(archs) - 1))
            if column == "accuracy":
                for value in dense.filter((pl.col("model") == model) & (pl.col("dataset") == dataset))["accuracy"]:
                    ax.axhline(value, ls="--", color="grey", lw=1)
            ax.set_title(f"{model} / {dataset}" if i == 0 else "", fontsize=10)
            ax.set_ylabel(label)
    legend_beside(fig, axes[0][-1])
    fig.suptitle("Sparse networks: accuracy and accuracy drop vs sparsity (dashed: dense baseline)" if len(rows) > 1
                 else "Sparse networks: accuracy vs sparsity (no dense baselines)")
    save_figure(fig, png, pdf)


def topometrics_vs_sparsity(table: pl.DataFrame, png: str | Path, pdf: str | Path | None = None,
                            metrics: Sequence[str] = MAIN_TOPOMETRICS) -> None:
    """Main end-to-end topometrics of the multipartite encoding against sparsity, one line (colour and marker) per
    pruner (mean over seeds, band ± one standard deviation); one row per metric, one column per (model, dataset)."""
    present = [m for m in metrics if m in table.columns]
    data = table.filter(~pl.col("failed").fill_null(False)).to_pandas()
    archs = _architectures(data)
    colours, markers = pruner_colours(data["pruner"]), pruner_markers(data["pruner"])
    fig, axes = plt.subplots(len(present), len(archs), figsize=(4 * len(archs) + 1.5, 2.6 * len(present)),
                             squeeze=False, sharex=True, layout="constrained")
    for j, (model, dataset) in enumerate(archs):
        part = data[(data["model"] == model) & (data["dataset"] == dataset)]
        for i, metric in enumerate(present):
            ax = axes[i][j]
            pruner_lines(ax, part, metric, colours, markers, legend=(i == 0 and j == len(archs) - 1))
            ax.set_title(f"{model} / {dataset}" if i == 0 else "", fontsize=10)
    legend_beside(fig, axes[0][-1])
    fig.suptitle("Topometrics of the multipartite encoding vs sparsity")
    save_figure(fig, png, pdf)
