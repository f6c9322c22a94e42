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

    rows = [{"model": m, "pruner": p, "sparsity": s, "seed": 0, "failed": False, "k_core_norm": s * k}
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
    legend = fig.axes[-1].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["er", "synflow", "uniform"]
    plt.close(fig)
