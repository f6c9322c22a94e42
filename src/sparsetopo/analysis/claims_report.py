"""Writing the claims: the table (parquet, CSV, Markdown with the verdicts first, LaTeX), each cluster's
contribution to the prediction comparisons, and the "Verdicts" page that opens the HTML report
(reStructuredText, with a link to the figure of every claim and the pre-registration record)."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import polars as pl

from ..io import atomic_path, frame_to_markdown, write_table
from .verdicts import verdict_summary

INTRO = ("Does the topology of a sparse network explain its accuracy beyond how many weights it keeps? Each claim "
         "of the studies is decided by a rule declared in the configuration (section ``claims``: margins, primary "
         "comparisons and how they combine); the effect is measured against baselines without topology (the cell "
         "means of architecture × sparsity, layer density, pruner identity where the pruner was seen), on the same "
         "runs and folds, with calibrated 95% intervals from the jackknife over independent clusters (whole "
         "pruners, mask generators or seeds) with every model refitted. A verdict against a paper is a result, "
         "not a failure.")
LEGEND = ("*supported*: the interval clears the declared threshold (every primary comparison, or one after Holm's "
          "correction for 'any' claims); *not supported*: a primary comparison excludes it after Holm's correction; "
          "*inconclusive*: otherwise, or fewer independent clusters than ``claims.min_groups`` back it, or the "
          "study has no data for it. 'Power' gives the widest primary 95% half-width and the clusters a half-width "
          "of ``claims.target_half_width`` would need.")
MISSING = "—"


def fmt(value, digits: int = 3) -> str:
    """A number for people: ``digits`` significant digits; a missing value as an em dash."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return MISSING
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def interval_text(low, high) -> str:
    """``[low, high]``, or an em dash when there is no interval."""
    if fmt(low) == MISSING or fmt(high) == MISSING:
        return MISSING
    return f"[{fmt(low)}, {fmt(high)}]"


def power_text(row: Mapping[str, Any], target_half_width: float) -> str:
    """The widest primary half-width of a claim and the clusters a target half-width needs."""
    if row.get("half_width") is None:
        return MISSING
    needed = row.get("clusters_needed")
    need = f"≈ {needed:,}" if needed is not None else "more than 100,000"
    return f"±{fmt(row['half_width'], 2)} with {row['groups']} clusters; ±{target_half_width:g} needs {need}"


def power_by_claim(table: pl.DataFrame) -> dict[str, dict[str, Any]]:
    """Per claim, the primary row with the widest interval (its half-width, clusters and clusters needed)."""
    out = {}
    for r in table.filter(pl.col("primary") & pl.col("half_width").is_not_null()).sort(
            "half_width", descending=True).iter_rows(named=True):
        out.setdefault(r["claim"], r)
    return out


def _table_for_people(table: pl.DataFrame) -> pl.DataFrame:
    """The claims table with intervals as text and missing values as em dashes."""
    return table.select(
        "claim", "scope", "comparison", "baseline",
        pl.col("estimate").map_elements(fmt, return_dtype=pl.String),
        pl.struct("ci_low", "ci_high").map_elements(lambda s: interval_text(s["ci_low"], s["ci_high"]),
                                                     return_dtype=pl.String).alias("95% interval"),
        *[pl.col(c).map_elements(fmt, return_dtype=pl.String) for c in ("p_support", "p_refute", "groups")],
        "verdict", "reason", "primary")


def claims_markdown(table: pl.DataFrame, alpha: float = 0.05, target_half_width: float = 0.03) -> str:
    """Markdown: the verdict of every claim first (with its power), then every row with its numbers and rule."""
    summary = verdict_summary(table, alpha)
    power = power_by_claim(table)
    summary = summary.with_columns(pl.Series("power", [power_text(power.get(c, {}), target_half_width)
                                                       for c in summary["claim"]], dtype=pl.String))
    lines = ["# Verdicts", "", INTRO, "", LEGEND, "", frame_to_markdown(summary.select(
        "claim", "study", "statement", "verdict", "note", "power", "figure")), "## Every comparison", "",
        "Rows marked primary decide the claim's verdict (the others are robustness checks).", "",
        frame_to_markdown(_table_for_people(table)), "## Decision rules", ""]
    for claim, rule in summary.select("claim", "rule").iter_rows():
        lines.append(f"- {claim} (combining its primary comparisons): {rule}")
    for claim, rule in table.select("claim", "rule").unique(maintain_order=True).drop_nulls().iter_rows():
        lines.append(f"- {claim} (each comparison): {rule}")
    return "\n".join(lines) + "\n"


def write_claims(table: pl.DataFrame, stem: str | os.PathLike, provenance: Mapping[str, Any] | None = None,
                 alpha: float = 0.05, target_half_width: float = 0.03) -> list[Path]:
    """``stem``.parquet/.csv/.tex (all rows) and ``stem``.md (verdicts first), each written atomically."""
    written = write_table(table, stem, "Claims of the studies and their verdicts", formats=("parquet", "csv", "tex"),
                          provenance=provenance)
    path = Path(f"{stem}.md")
    with atomic_path(path) as tmp:
        tmp.write_text(claims_markdown(table, alpha, target_half_width))
    return written + [path]


def _rst_cell(text: str) -> str:
    return " ".join(str(text).split()).replace("*", r"\*").replace("`", "'").replace("|", r"\|")


def verdicts_rst(table: pl.DataFrame, study: str, rules: Mapping[str, Any] | None = None,
                 preregistration: Sequence[str] = (), earlier: Sequence[Mapping[str, Any]] = ()) -> str:
    """The report's front page: the verdicts with their power, a link to each claim's figure (when the report has
    it), the primary comparisons, and the pre-registration record (with earlier verdicts if the rules changed)."""
    rules = rules or {}
    alpha, half = float(rules.get("alpha", 0.05)), float(rules.get("target_half_width", 0.03))
    summary = verdict_summary(table, alpha)
    power = power_by_claim(table)
    rows = table.filter(pl.col("primary") & pl.col("estimate").is_not_null())
    lines = [f"Verdicts of study ``{study}``", "=" * (len(study) + 24), "", INTRO, "", LEGEND, "",
             "{% set targets = files|map(attribute='target')|list %}", "",
             ".. list-table::", "   :header-rows: 1", "   :widths: 5 13 34 20 16 12", "",
             "   * - claim", "     - study", "     - statement", "     - verdict", "     - power", "     - shown in"]
    for r in summary.iter_rows(named=True):
        figure = f"{r['figure']}.png"
        # an expression, not an {% if %} block: the report's Jinja trims the newline after a block tag
        link = "{{ '`" + figure + "`_' if '" + figure + "' in targets else '" + figure + "' }}"
        verdict = f"**{r['verdict']}**" + (f" ({_rst_cell(r['note'])})" if r["note"] else "")
        lines += [f"   * - {r['claim']}", f"     - {_rst_cell(r['study'])}", f"     - {_rst_cell(r['statement'])}",
                  f"     - {verdict}", f"     - {_rst_cell(power_text(power.get(r['claim'], {}), half))}",
                  f"     - {link}"]
    lines += ["", "Primary comparisons", "-------------------", "",
              ".. list-table::", "   :header-rows: 1", "   :widths: 5 20 35 10 16 7 11", "",
              "   * - claim", "     - scope", "     - comparison", "     - estimate", "     - 95% interval",
              "     - clusters", "     - verdict"]
    for r in rows.iter_rows(named=True):
        lines += [f"   * - {r['claim']}", f"     - {_rst_cell(r['scope'])}", f"     - {_rst_cell(r['comparison'])}",
                  f"     - {fmt(r['estimate'])}", f"     - {interval_text(r['ci_low'], r['ci_high'])}",
                  f"     - {fmt(r['groups'])}", f"     - {r['verdict']}"]
    if preregistration:
        lines += ["", "Pre-registration", "----------------", ""] + [f"{_rst_cell(t)}\n" for t in preregistration]
    for entry in earlier:
        title = (f"First verdicts under the same rules (first written {entry['first_written']})"
                 if entry.get("same_rules") else
                 f"Earlier verdicts (rules {entry['digest'][:12]}, first written {entry['first_written']})")
        lines += ["", title, "",
                  ".. list-table::", "   :header-rows: 1", "   :widths: 10 20 70", "",
                  "   * - claim", "     - verdict", "     - note"]
        for v in entry.get("rows", []):
            lines += [f"   * - {v['claim']}", f"     - {v['verdict']}", f"     - {_rst_cell(v.get('note') or '')}"]
    lines += ["", "Every row, with its decision rule, is in ``tables/claims.md`` (and ``.csv``, ``.parquet``, "
                  "``.tex``); each cluster's share of the prediction comparisons is in ``tables/claims_clusters.md``; "
                  "the statistics are described in ``docs/statistics.md`` of the repository.", ""]
    return "\n".join(lines)


def run_claims(input_paths: Mapping[str, str], rules: Mapping[str, Any], study: str, out_dir, png, pdf, page,
               description: str = "", clusters_png=None, clusters_pdf=None,
               config_files: Sequence[str] = (), ledger_dir=None) -> pl.DataFrame:
    """Evaluate every claim on the tables at ``input_paths`` (names of :class:`.claims.ClaimInputs`), write
    ``out_dir/claims.*`` and ``out_dir/claims_clusters.*`` (parquet with provenance), the job's provenance and
    pre-registration record ``out_dir/claims.json``, the prediction-claims and cluster-contribution figures, and
    the report's front page ``page`` (the verdicts, then ``description``). ``ledger_dir``: where the ledger of
    decision rules is kept (:mod:`.preregistration`; None: no ledger)."""
    import time

    from threadpoolctl import threadpool_limits

    from ..io import write_json
    from ..provenance import record
    from .claims import ClaimInputs
    from .figures import plot_claims_prediction, plot_cluster_contributions
    from .preregistration import file_record, preregistration_text, rules_digest, update_ledger
    from .verdicts import evaluate_claims

    start = time.perf_counter()
    tables = {name: pl.read_parquet(path) for name, path in input_paths.items()}
    with threadpool_limits(1, "blas"):  # small dense fits: one BLAS thread is faster and gives the same bytes
        table, contributions = evaluate_claims(ClaimInputs(**tables), rules)
    prov = record("claims", rules, inputs=input_paths, where=out_dir)
    alpha, half = float(rules["alpha"]), float(rules["target_half_width"])
    write_claims(table, Path(out_dir) / "claims", prov, alpha, half)
    write_table(contributions, Path(out_dir) / "claims_clusters", "Each cluster's share of the ΔR² of every "
                "prediction comparison (ΔSSE of the cluster over the within-cell SST; shares add up to ΔR²)",
                formats=("parquet", "csv", "md"), provenance=prov)
    plot_claims_prediction(table, png, pdf)
    if clusters_png is not None:
        plot_cluster_contributions(contributions, clusters_png, clusters_pdf)
    prereg, text, earlier = None, [], []
    if ledger_dir is not None:
        summary = verdict_summary(table, alpha)
        sources = [file_record(path) for path in config_files]
        prereg = update_ledger(ledger_dir, rules_digest(rules), sources, summary)
        text, earlier = preregistration_text(prereg), prereg["earlier"]
    with atomic_path(page) as tmp:
        tmp.write_text(verdicts_rst(table, study, rules, text, earlier) + "\n" + description)
    write_json(Path(out_dir) / "claims.json", {"provenance": {**prov, "seconds": time.perf_counter() - start},
                                               "preregistration": prereg,
                                               "verdicts": verdict_summary(table, alpha).to_dicts()})
    return table


def _signed(value) -> str:
    return MISSING if fmt(value) == MISSING else f"{value:+.3f}"


def plain_summary(table: pl.DataFrame, alpha: float = 0.05, target_half_width: float = 0.03) -> str:
    """The verdicts in plain words, generated from a claims table (README's summaries are made by this function
    from the committed claims tables, and a test checks that they agree): one line per claim the study has data
    for, with its verdict, why, every primary comparison with its effect, interval, both models' R² and clusters,
    and its power; then one line naming the claims it has no data for."""
    summary = verdict_summary(table, alpha)
    power = power_by_claim(table)
    lines, absent = [], []
    for s in summary.iter_rows(named=True):
        measured = table.filter((pl.col("claim") == s["claim"]) & pl.col("estimate").is_not_null())
        rows = measured.filter(pl.col("primary"))
        if measured.height == 0:
            absent.append(s["claim"])
            continue
        parts = [f"{r['scope']}: {r['comparison']} {_signed(r['estimate'])} "
                 f"{_signed_interval(r['ci_low'], r['ci_high'])}, {r['groups']} clusters, {r['verdict']}"
                 for r in rows.iter_rows(named=True)]
        line = f"- **{s['claim']}** ({s['statement'].rstrip('.')}): *{s['verdict']}* — {s['note']}."
        if parts:
            line += " Primary: " + "; ".join(parts) + "."
        if s["claim"] in power:
            line += f" Power: {power_text(power[s['claim']], target_half_width)}."
        lines.append(line)
    if absent:
        lines.append(f"- Not part of this study (no data): {', '.join(absent)}.")
    return "\n".join(lines) + "\n"


def _signed_interval(low, high) -> str:
    return MISSING if interval_text(low, high) == MISSING else f"[{low:+.3f}, {high:+.3f}]"


def read_claims_csv(path: str | os.PathLike) -> pl.DataFrame:
    """A claims table written as CSV (tables/claims.csv), with its column types."""
    from .claims import COLUMNS

    return pl.read_csv(path, schema_overrides=COLUMNS).select(list(COLUMNS))


def summary_block(text: str, study: str, content: str | None = None) -> str:
    """The plain-words block of ``study`` in ``text`` (between ``<!-- claims:<study> -->`` and
    ``<!-- /claims:<study> -->``), or ``text`` with that block replaced by ``content``."""
    start, end = f"<!-- claims:{study} -->\n", f"<!-- /claims:{study} -->"
    if start not in text or end not in text:
        raise ValueError(f"no block {start.strip()} ... {end} in the text")
    head, rest = text.split(start, 1)
    body, tail = rest.split(end, 1)
    return body if content is None else head + start + content + end + tail
