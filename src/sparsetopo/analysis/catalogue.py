"""The analysis catalogue: every analysis of the study in one place (name, function, tables read, tables written
with their captions, figure with its caption). The workflow makes one rule per entry from it, the report takes
the captions from it, and the configuration's ``analyses`` list is checked against it.

An analysis function takes the collected tables (name -> polars frame) and the validated ``analysis`` options,
and returns its tables (stem -> frame); its figure function takes those tables and the PNG/PDF paths.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import polars as pl

from . import figures
from .importance import metric_importance
from .prediction import out_of_fold_predictions, prediction_table
from .ramanujan_density import ramanujan_vs_density
from .ranking import pai_ranking, pai_ranking_summary

Tables = Mapping[str, pl.DataFrame]


@dataclass(frozen=True)
class Analysis:
    """One analysis: what it reads, what it computes and writes, and how its figure is captioned."""

    name: str
    compute: Callable[[Tables, Mapping[str, Any]], dict[str, pl.DataFrame]]
    tables: dict[str, str]  # stem -> caption
    plot: Callable[[dict[str, pl.DataFrame], Any, Any], Any]
    caption: str  # of the figure
    options: tuple[str, ...]  # the keys of the config's ``analysis`` section it reads (what its rule tracks)
    needs: tuple[str, ...] = ()  # collected tables without which the analysis cannot run
    formats: dict[str, tuple[str, ...]] = field(default_factory=dict)  # stem -> formats (default: all four)


ANALYSES: dict[str, Analysis] = {}


def register_analysis(analysis: Analysis) -> Analysis:
    """Add ``analysis`` to :data:`ANALYSES` (names are unique)."""
    if analysis.name in ANALYSES:
        raise ValueError(f"analysis {analysis.name!r} is already registered")
    ANALYSES[analysis.name] = analysis
    return analysis


TARGET_NOTE = ("Target: relative accuracy drop when dense accuracies are known, else accuracy drop, else accuracy "
               "(column 'target'); R² depends on that choice in pooled fits, where the target's variance differs.")


def _a1(tables: Tables, options: Mapping[str, Any]) -> dict[str, pl.DataFrame]:
    corr, ols = ramanujan_vs_density(tables, options)
    return {"ramanujan_vs_density": corr, "ramanujan_nested_ols": ols}


def _a2(tables: Tables, options: Mapping[str, Any]) -> dict[str, pl.DataFrame]:
    oof = out_of_fold_predictions(tables, options)
    return {"accuracy_drop_prediction": prediction_table(oof), "accuracy_drop_predictions": oof}


def _a3(tables: Tables, options: Mapping[str, Any]) -> dict[str, pl.DataFrame]:
    importance, concordance = metric_importance(tables, options)
    return {"metric_importance": importance, "importance_concordance": concordance}


def _a4(tables: Tables, options: Mapping[str, Any]) -> dict[str, pl.DataFrame]:
    ranking = pai_ranking(tables, options)
    return {"pai_ranking": ranking, "pai_ranking_summary": pai_ranking_summary(ranking)}


register_analysis(Analysis(
    "ramanujan_vs_density", _a1,
    {"ramanujan_vs_density": "A1: Spearman and Kendall correlation of accuracy with Ramanujan and layer-density "
                             "summaries per model, dataset and sparsity.",
     "ramanujan_nested_ols": "A1: nested OLS accuracy ~ density summaries vs ~ density + Ramanujan metrics (R2, "
                             "Delta R2, F-test p-value, AIC) per model, dataset and sparsity (in-sample, descriptive)."},
    lambda t, png, pdf: figures.plot_ramanujan_vs_density(t["ramanujan_vs_density"], png, pdf),
    "A1: Spearman rho of accuracy with each Ramanujan-based metric and each layer-density summary, one point per "
    "(model, dataset, sparsity). The verdict of claim C1 comes from the out-of-fold comparison (claims table).",
    ("pruner_set",), needs=("ramanujan_summary",)))
register_analysis(Analysis(
    "accuracy_drop_prediction", _a2,
    {"accuracy_drop_prediction": "A2: out-of-fold R2 within cells (the share of the variance inside (model, "
                                 "dataset, sparsity) cells explained; the cell means score 0) and MAE, with 95% "
                                 "jackknife intervals (every model refitted without each block of clusters), of "
                                 "baseline + feature set per scope, CV scheme and learner; Delta R2 against the "
                                 f"model's own baseline on the same rows and replicates. {TARGET_NOTE}",
     "accuracy_drop_predictions": "A2: out-of-fold prediction of every run by every model, in the full sample "
                                  "(replicate 0) and with each block of clusters deleted (replicates 1..K)."},
    lambda t, png, pdf: figures.plot_accuracy_drop_prediction(t["accuracy_drop_prediction"], png, pdf),
    "A2: out-of-fold R2 within cells of the cell means + each topology feature set (points, 95% jackknife "
    "intervals with refits) against the baselines without topology (lines: additive architecture + sparsity; the "
    "cell means, whose out-of-fold estimate falls below their in-sample 0; + layer density; + pruner identity where "
    "the pruner was seen). Axis clipped to [-1, 1]; points off the scale are drawn on the edge with their value.",
    ("pruner_set", "seed", "cv", "learners", "scopes", "gbt_scopes", "max_folds", "jackknife_blocks",
     "pruner_clusters"),
    formats={"accuracy_drop_predictions": ("parquet",)}))
register_analysis(Analysis(
    "metric_importance", _a3,
    {"metric_importance": "A3: partial Spearman rho of each metric with the target (centred within model x "
                          "dataset x sparsity), per sparsity level and per architecture; rank by |rho|. "
                          f"{TARGET_NOTE}",
     "importance_concordance": "A3: Kendall's W of the importance rankings across groups, its jackknife interval "
                               "over pruner clusters, "
                               "and the permutation test against random regrouping of the cells."},
    lambda t, png, pdf: figures.plot_metric_importance(t["metric_importance"], png, pdf,
                                                       concordance=t["importance_concordance"]),
    "A3: which metrics matter per sparsity level and per architecture (partial Spearman rho with the target); "
    "titles give the concordance of the rankings (Kendall's W) against random regrouping (claim C3).",
    ("pruner_set", "seed", "permutations", "importance_feature_sets", "pruner_clusters")))
register_analysis(Analysis(
    "pai_ranking", _a4,
    {"pai_ranking": "A4: agreement (Kendall tau-b, top-1) between the true ranking of pruners and the ranking by "
                    "each feature set's mixture (same learner, leave-one-pruner-out) and by single Ramanujan "
                    "metrics, per model, dataset and sparsity.",
     "pai_ranking_summary": "A4: mean Kendall tau and top-1 rate of each ranker, per model and overall."},
    lambda t, png, pdf: figures.plot_pai_ranking(t["pai_ranking"], png, pdf),
    "A4: Kendall tau between the true ranking of the pruners and each ranker's, one point per (model, dataset, "
    "sparsity); mixtures are fitted without the ranked pruner (claim C4).",
    ("pruner_set", "seed", "ranking_learner", "ranking_metrics")))


def read_tables(paths: Mapping[str, str]) -> dict[str, pl.DataFrame]:
    """Tables by name from ``{name: parquet path}``."""
    return {name: pl.read_parquet(path) for name, path in paths.items()}


def run_analysis(name: str, table_paths: Mapping[str, str], options: Mapping[str, Any], out_dir, png, pdf) -> (
        dict[str, pl.DataFrame]):
    """Compute analysis ``name`` on the collected tables at ``table_paths``, write its tables under ``out_dir``
    (``<stem>.<format>``, parquet with provenance), its figure, and the job's provenance ``out_dir/<name>.json``."""
    import time
    from pathlib import Path

    from ..io import write_json, write_table
    from ..provenance import record
    from ..stages.stage_config import StageConfig

    from threadpoolctl import threadpool_limits

    start = time.perf_counter()
    analysis = ANALYSES[name]
    used = StageConfig({key: options[key] for key in analysis.options})
    with threadpool_limits(1, "blas"):  # many small dense fits: one BLAS thread is faster and gives the same bytes
        results = analysis.compute(read_tables(table_paths), used)
    prov = record("analysis", {"analysis": name, **used}, inputs=table_paths, where=out_dir)
    for stem, caption in analysis.tables.items():
        write_table(results[stem], Path(out_dir) / stem, caption,
                    formats=analysis.formats.get(stem, ("parquet", "csv", "md", "tex")), provenance=prov)
    analysis.plot(results, png, pdf)
    write_json(Path(out_dir) / f"{name}.json", {"tables": list(analysis.tables),
                                                 "provenance": {**prov, "seconds": time.perf_counter() - start}})
    return results
