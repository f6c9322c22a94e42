"""The one figure writer of the library: PNG and PDF, atomic, without date or software metadata."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from sparsetopo.plots import save_figure  # noqa: E402


def _figure():
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1, 2], [2, 0, 1], marker="o", label="line")
    ax.set_title("same data")
    ax.legend()
    return fig


def test_same_data_same_bytes_without_metadata(tmp_path):
    written = save_figure(_figure(), tmp_path / "a" / "fig.png")
    assert written == [tmp_path / "a" / "fig.png", tmp_path / "a" / "fig.pdf"]  # the PDF beside the PNG
    save_figure(_figure(), tmp_path / "b" / "fig.png", tmp_path / "b" / "other.pdf")
    png, pdf = (tmp_path / "a" / "fig.png").read_bytes(), (tmp_path / "a" / "fig.pdf").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and pdf[:5] == b"%PDF-"
    assert png == (tmp_path / "b" / "fig.png").read_bytes() and pdf == (tmp_path / "b" / "other.pdf").read_bytes()
    assert b"Software" not in png and b"matplotlib" not in png.lower()
    for key in (b"/CreationDate", b"/Producer", b"/Creator"):
        assert key not in pdf
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["fig.pdf", "fig.png"]  # no temporary files
    assert plt.get_fignums() == []  # closed


def test_failed_save_leaves_no_file_and_closes(tmp_path, monkeypatch):
    fig = _figure()
    original = fig.savefig

    def failing(path, format=None, **kwargs):
        if format == "pdf":
            original(path, format=format, **kwargs)  # a partial file is written ...
            raise OSError("disk full")  # ... and the write fails
        return original(path, format=format, **kwargs)

    monkeypatch.setattr(fig, "savefig", failing)
    with pytest.raises(OSError, match="disk full"):
        save_figure(fig, tmp_path / "fig.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig.png"]  # no PDF, no temporary file
    assert plt.get_fignums() == []


def test_a_pruner_has_one_colour_in_every_panel_whichever_pruners_a_panel_has(monkeypatch):
    import matplotlib.colors as mcolors
    import polars as pl

    from sparsetopo import plots

    rows = [{"dataset": "digits", "model": m, "pruner": p, "sparsity": s, "seed": 0, "failed": False, "k_core_norm": s * k}
            for m, pruners in (("a", ("er", "uniform")), ("b", ("synflow", "uniform")))
            for k, p in enumerate(pruners, 1) for s in (0.9, 0.99)]
    figures = []
    monkeypatch.setattr(plots, "save_figure", lambda fig, png, pdf=None: figures.append(fig))
    plots.topometrics_vs_sparsity(pl.DataFrame(rows), "unused.png", metrics=["k_core_norm"])
    (fig,) = figures
    colours = plots.pruner_colours(["er", "synflow", "uniform"])
    for ax, pruners in zip(fig.axes, (("er", "uniform"), ("synflow", "uniform"))):
        drawn = {mcolors.to_hex(line.get_color()) for line in ax.get_lines() if len(line.get_xdata())}
        assert drawn == {mcolors.to_hex(colours[p]) for p in pruners}, ax.get_title()
    (legend,) = fig.legends  # one legend, beside the panels
    assert [t.get_text() for t in legend.get_texts()] == ["er", "synflow", "uniform"]
    plt.close(fig)


# ------------------------------------------------------------------ every figure: same tables, same bytes, no overlap
def _tables():
    """Small tables of every figure's input, with several seeds (bands) and 12 pruners (config/paper.yaml's)."""
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(5)
    pruners = ["dense", "dsr", "er", "erk", "grasp", "itop", "prospr", "rigl", "set", "snfs", "snip", "synflow",
               "uniform"]
    runs = pl.DataFrame([{"dataset": "cifar10", "model": m, "pruner": p, "sparsity": s if p != "dense" else 0.0,
                          "seed": seed, "accuracy": float(rng.uniform(0.5, 0.9)), "failed": False,
                          "relative_accuracy_drop": float(rng.uniform(0, 0.3)), "sink_nodes_norm": float(rng.random()),
                          "k_core_norm": float(rng.random()), "two_hop_norm": float(rng.random()),
                          "components": float(rng.integers(1, 5))}
                         for m in ("conv6", "resnet20") for p in pruners for s in (0.9, 0.95, 0.98)
                         for seed in range(3) if p != "dense" or s == 0.9])
    metrics = ["imdb", "imdb_norm", "spectral_gap", "density_mean"]
    correlations = pl.DataFrame([{"family": "density" if m.startswith("density") else "ramanujan", "metric": m,
                                  "spearman_rho": float(rng.uniform(-1, 1))} for m in metrics for _ in range(12)])
    a2 = pl.DataFrame([{"model": "all", "learner": "ridge", "scope": scope, "cv": cv, "feature_set": f,
                        "baseline": b, "r2": float(rng.uniform(-1.3, 1)), "r2_low": -0.9, "r2_high": 0.95,
                        "target": "accuracy_drop"}
                       for scope in ("pooled", "architecture", "sparsity") for cv in ("seed", "pruner")
                       for f, b in [(f, "cell") for f in ("multipartite", "rolled", "rolled_channel", "ramanujan")]
                       + [("none", b) for b in ("arch+sparsity", "cell", "cell+density", "cell+pruner")]])
    claims = pl.DataFrame([{"claim": c, "scope": f"{scope}, leave-one-pruner-out", "comparison": f"{what} (ΔR²)",
                            "primary": scope == "pooled", "verdict": v, "estimate": e, "ci_low": e - 0.4,
                            "ci_high": e + 0.4}
                           for c, what, v, e in (("T1", "multipartite vs arch+sparsity", "inconclusive", 0.05),
                                                 ("C1", "ramanujan vs density", "not supported", -0.6),
                                                 ("C2", "multipartite vs rolled", "supported", 0.7))
                           for scope in ("pooled", "architecture")])
    importance = pl.DataFrame([{"feature_set": "multipartite", "grouping": g, "group": str(k), "feature": f,
                                "spearman_rho": float(rng.uniform(-1, 1))}
                               for g in ("sparsity", "architecture") for k in range(3) for f in metrics])
    ranking = pl.DataFrame([{"ranker": r, "model": m, "kendall_tau": float(rng.uniform(-1, 1))}
                            for r in ("multipartite", "ramanujan") for m in ("conv6", "resnet20") for _ in range(4)])
    pairs = pl.DataFrame([{"dataset": "digits", "model": "mlp", "pruner": p, "sparsity": s, "seed_a": a,
                           "seed_b": b, "accuracy_a": float(rng.uniform(0.7, 0.9)),
                           "accuracy_b": float(rng.uniform(0.7, 0.9)), "nnstd": float(rng.uniform(0.2, 0.9)),
                           "null_nnstd": 0.9} for p in ("er", "set") for s in (0.8, 0.9, 0.98)
                          for a, b in ((0, 1), (0, 2), (1, 2))])
    return runs, correlations, a2, claims, importance, ranking, pairs


def _figure_calls():
    from sparsetopo import plots
    from sparsetopo.analysis import figures
    from sparsetopo.nnstd.figures import plot_seed_pairs

    runs, correlations, a2, claims, importance, ranking, pairs = _tables()
    return {"nnstd_seed_pairs": lambda png: plot_seed_pairs(pairs, png),"accuracy_vs_sparsity": lambda png: plots.accuracy_vs_sparsity(runs, png),
            "topometrics_vs_sparsity": lambda png: plots.topometrics_vs_sparsity(
                runs.filter(runs["pruner"] != "dense"), png, metrics=["sink_nodes_norm", "k_core_norm"]),
            "accuracy_by_pruner": lambda png: figures.plot_accuracy_by_pruner(runs.filter(runs["pruner"] != "dense"),
                                                                              png),
            "ramanujan_vs_density": lambda png: figures.plot_ramanujan_vs_density(correlations, png),
            "accuracy_drop_prediction": lambda png: figures.plot_accuracy_drop_prediction(a2, png),
            "accuracy_drop_prediction_one_cv": lambda png: figures.plot_accuracy_drop_prediction(
                a2.filter(a2["cv"] == "pruner"), png),  # one column of panels, as in the default study
            "claims_prediction": lambda png: figures.plot_claims_prediction(claims, png),
            "metric_importance": lambda png: figures.plot_metric_importance(importance, png),
            "pai_ranking": lambda png: figures.plot_pai_ranking(ranking, png),
            "topometric_distributions": lambda png: figures.plot_topometric_distributions(
                runs, png, metrics=["sink_nodes_norm", "k_core_norm", "two_hop_norm", "components"])}


def test_every_figure_gives_the_same_bytes_on_the_same_tables(tmp_path):
    """Jitter and error bands are seeded: the same tables give byte-identical PNG and PDF files, whatever state
    numpy's global generator is in."""
    import numpy as np

    for name, draw in _figure_calls().items():
        for run, seed in (("a", 1), ("b", 2)):
            np.random.seed(seed)  # an unseeded jitter or bootstrap would now draw differently
            draw(tmp_path / run / f"{name}.png")
        for ext in ("png", "pdf"):
            first, second = (tmp_path / run / f"{name}.{ext}" for run in ("a", "b"))
            assert first.read_bytes() == second.read_bytes(), f"{name}.{ext}"


def _extents(fig):
    """Per axes: the bounding boxes (display pixels) of its plot area and of every text around it."""
    renderer = fig.canvas.get_renderer()
    out = []
    for ax in fig.axes:
        if not ax.get_visible() or not ax.axison:
            continue
        texts = [ax.title, ax.xaxis.label, ax.yaxis.label]
        for ticks, labels, (low, high) in ((ax.get_xticks(), ax.get_xticklabels(), sorted(ax.get_xlim())),
                                           (ax.get_yticks(), ax.get_yticklabels(), sorted(ax.get_ylim()))):
            texts += [label for tick, label in zip(ticks, labels) if low <= tick <= high]  # drawn ticks only
        out.append((ax, ax.get_window_extent(renderer),
                    [t.get_window_extent(renderer) for t in texts if t.get_visible() and t.get_text()]))
    return out


def test_no_figure_has_overlapping_labels_or_a_legend_over_data(monkeypatch):
    """What a reader sees: no text of one panel (tick labels, axis labels, title) runs into another panel or its
    texts, and no legend lies over a plot area."""
    from sparsetopo import plots
    from sparsetopo.analysis import figures
    from sparsetopo.nnstd import figures as nnstd_figures

    captured = []
    for module in (plots, figures, nnstd_figures):
        monkeypatch.setattr(module, "save_figure", lambda fig, png, pdf=None: captured.append(fig))
    for name, draw in _figure_calls().items():
        captured.clear()
        draw("unused.png")
        (fig,) = captured
        fig.canvas.draw()
        panels = _extents(fig)
        for i, (ax, area, texts) in enumerate(panels):
            for other, other_area, other_texts in panels[i + 1:]:
                if other in ax.child_axes or ax in other.child_axes or "colorbar" in (other.get_label(),
                                                                                     ax.get_label()):
                    continue
                for box in texts:
                    assert not box.overlaps(other_area) and not any(box.overlaps(b) for b in other_texts), \
                        (name, ax.get_title(), other.get_title())
                assert not any(box.overlaps(area) for box in other_texts), (name, other.get_title(), ax.get_title())
        renderer = fig.canvas.get_renderer()
        legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend() is not None)]
        titles = [fig._suptitle.get_window_extent(renderer)] if fig._suptitle is not None else []
        for legend in legends:
            box = legend.get_window_extent(renderer)
            assert not any(box.overlaps(area) for _, area, _ in panels), (name, "legend over a panel")
            assert not any(box.overlaps(t) for _, _, texts in panels for t in texts + titles), (name, "legend on text")
        for title in titles:
            assert not any(title.overlaps(t) for _, _, texts in panels for t in texts), (name, "suptitle on text")
        plt.close(fig)


def test_twelve_pruners_get_twelve_colours_and_markers():
    import matplotlib.colors as mcolors

    from sparsetopo.plots import pruner_colours, pruner_markers

    names = ["dsr", "er", "erk", "grasp", "itop", "prospr", "rigl", "set", "snfs", "snip", "synflow", "uniform"]
    colours, markers = pruner_colours(names), pruner_markers(names)
    assert len({mcolors.to_hex(c) for c in colours.values()}) == 12 and len(set(markers.values())) == 12
    assert mcolors.to_hex(colours["synflow"]) != mcolors.to_hex(colours["dsr"])  # the pairs that shared a colour
    assert mcolors.to_hex(colours["uniform"]) != mcolors.to_hex(colours["er"])
    assert len({mcolors.to_hex(c) for c in pruner_colours([*names, "magnitude", "slimming"]).values()}) == 14
