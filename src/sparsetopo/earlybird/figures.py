"""Early-bird figure: the epoch x epoch distance matrices with the detected epochs, through
:func:`sparsetopo.plots.save_figure` (PNG + PDF, reproducible bytes)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import seaborn as sns  # noqa: E402

from ..plots import save_figure  # noqa: E402


def plot_distance_matrices(matrices: Mapping[str, np.ndarray], detections: Mapping[str, int | None],
                           png: str | os.PathLike, pdf: str | os.PathLike | None = None,
                           title: str = "Early-bird distances") -> list[Path]:
    """One heatmap per signal (epoch x epoch), the detected epoch marked by lines."""
    keys = list(matrices)
    fig, axes = plt.subplots(1, len(keys), figsize=(3.4 * len(keys) + 0.5, 3.6), squeeze=False,
                             constrained_layout=True)
    for ax, key in zip(axes[0], keys):
        m = matrices[key]
        sns.heatmap(m, cmap="viridis_r", square=True, ax=ax, vmin=0, cbar=True,
                    xticklabels=max(1, m.shape[0] // 6), yticklabels=max(1, m.shape[0] // 6))
        ax.tick_params(labelsize=6)
        epoch = detections.get(key)
        label = "spline (BN sign patterns)" if key == "spline" else f"mask distance p={key[len('mask_p'):]}"
        if epoch is not None:
            ax.axhline(epoch + 0.5, color="red", lw=1)
            ax.axvline(epoch + 0.5, color="red", lw=1)
        ax.set_title(f"{label}\nticket at epoch {epoch if epoch is not None else 'none'}", fontsize=8)
        ax.set_xlabel("epoch", fontsize=7)
        ax.set_ylabel("epoch", fontsize=7)
    fig.suptitle(title, fontsize=10)
    return save_figure(fig, png, pdf)
