"""Writing the claims: the table (parquet, CSV, Markdown with the verdicts first, LaTeX) and the "Verdicts" page
that opens the HTML report (reStructuredText, with a link to the figure of every claim)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import polars as pl

from ..io import atomic_path, frame_to_markdown, write_table
from .claims import verdict_summary

INTRO = ("Does the topology of a sparse network explain its accuracy beyond how many weights it keeps? Each claim "
         "of the studies is decided by a rule declared in the configuration before the data were seen (section "
         "``claims``); the effect is measured against baselines without topology, on the same runs, folds and "
         "resamples, with 95% intervals that resample whole seeds or pruners. A verdict against a paper is a "
         "result, not a failure.")
LEGEND = ("*supported*: the interval clears the declared threshold; *not supported*: it excludes the threshold; "
          "*inconclusive*: it straddles it, or too few clusters back it, or the study has no data for it.")


def _fmt(value, digits: int = 3) -> str:
    if value is None:
        return ""
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def claims_markdown(table: pl.DataFrame) -> str:
    """Markdown: the verdict of every claim first, then every row with its numbers and rule."""
    summary = verdict_summary(table)
    lines = ["# Verdicts", "", INTRO, "", LEGEND, "", frame_to_markdown(summary.select(
        "claim", "study", "statement", "verdict", "note", "figure")), "## Every comparison", "",
        "Rows marked primary decide the claim's verdict (the others are robustness checks).", "",
        frame_to_markdown(table.select("claim", "scope", "comparison", "baseline", "estimate", "ci_low", "ci_high",
                                       "p_value", "n", "groups", "verdict", "reason", "primary")),
        "## Decision rules", ""]
    for claim, rule in table.select("claim", "rule").unique(maintain_order=True).drop_nulls().iter_rows():
        lines.append(f"- {claim}: {rule}")
    return "\n".join(lines) + "\n"


def write_claims(table: pl.DataFrame, stem: str | os.PathLike, provenance: Mapping[str, Any] | None = None) -> (
        list[Path]):
    """``stem``.parquet/.csv/.tex (all rows) and ``stem``.md (verdicts first), each written atomically."""
    written = write_table(table, stem, "Claims of the studies and their verdicts", formats=("parquet", "csv", "tex"),
                          provenance=provenance)
    path = Path(f"{stem}.md")
    with atomic_path(path) as tmp:
        tmp.write_text(claims_markdown(table))
    return written + [path]


def _rst_cell(text: str) -> str:
    return " ".join(str(text).split()).replace("*", r"\*").replace("`", "'").replace("|", r"\|")


def verdicts_rst(table: pl.DataFrame, study: str) -> str:
    """The report's front page: the verdicts table with a link to each claim's figure (when the report has it)."""
    summary = verdict_summary(table)
    rows = table.filter(pl.col("primary") & pl.col("estimate").is_not_null())
    lines = [f"Verdicts of study ``{study}``", "=" * (len(study) + 24), "", INTRO, "", LEGEND, "",
             "{% set targets = files|map(attribute='target')|list %}", "",
             ".. list-table::", "   :header-rows: 1", "   :widths: 6 16 46 12 20", "",
             "   * - claim", "     - study", "     - statement", "     - verdict", "     - shown in"]
    for r in summary.iter_rows(named=True):
        figure = f"{r['figure']}.png"
        # an expression, not an {% if %} block: the report's Jinja trims the newline after a block tag
        link = "{{ '`" + figure + "`_' if '" + figure + "' in targets else '" + figure + "' }}"
        verdict = f"**{r['verdict']}**" + (f" ({_rst_cell(r['note'])})" if r["note"] else "")
        lines += [f"   * - {r['claim']}", f"     - {_rst_cell(r['study'])}", f"     - {_rst_cell(r['statement'])}",
                  f"     - {verdict}", f"     - {link}"]
    lines += ["", "Primary comparisons", "-------------------", "",
              ".. list-table::", "   :header-rows: 1", "   :widths: 5 22 33 10 16 7 11", "",
              "   * - claim", "     - scope", "     - comparison", "     - estimate", "     - 95% interval",
              "     - clusters", "     - verdict"]
    for r in rows.iter_rows(named=True):
        lines += [f"   * - {r['claim']}", f"     - {_rst_cell(r['scope'])}", f"     - {_rst_cell(r['comparison'])}",
                  f"     - {_fmt(r['estimate'])}", f"     - [{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]",
                  f"     - {_fmt(r['groups'])}", f"     - {r['verdict']}"]
    lines += ["", "Every row, with its decision rule, is in ``tables/claims.md`` (and ``.csv``, ``.parquet``, "
                  "``.tex``); the statistics are described in ``docs/statistics.md`` of the repository.", ""]
    return "\n".join(lines)


def run_claims(input_paths: Mapping[str, str], rules: Mapping[str, Any], study: str, out_dir, png, pdf, page,
               description: str = "") -> pl.DataFrame:
    """Evaluate every claim on the tables at ``input_paths`` (names of :class:`.claims.ClaimInputs`), write
    ``out_dir/claims.*`` (parquet with provenance) and the job's provenance ``out_dir/claims.json``, the
    prediction-claims figure and the report's front page ``page`` (the verdicts, then ``description``)."""
    import time

    from ..io import write_json
    from ..provenance import record
    from .claims import ClaimInputs, evaluate_claims
    from .figures import plot_claims_prediction

    start = time.perf_counter()
    tables = {name: pl.read_parquet(path) for name, path in input_paths.items()}
    table = evaluate_claims(ClaimInputs(**tables, bootstrap=int(rules["bootstrap"]), seed=int(rules["seed"])), rules)
    prov = record("claims", rules, inputs=input_paths, where=out_dir)
    write_claims(table, Path(out_dir) / "claims", prov)
    plot_claims_prediction(table, png, pdf)
    with atomic_path(page) as tmp:
        tmp.write_text(verdicts_rst(table, study) + "\n" + description)
    write_json(Path(out_dir) / "claims.json", {"provenance": {**prov, "seconds": time.perf_counter() - start}})
    return table
