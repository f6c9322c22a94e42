"""A4: can topometrics rank pruning-at-initialisation algorithms?

Per (model, dataset, sparsity), the true ranking of the pruners is by mean accuracy over seeds; a ranker scores
every run and ranks pruners by mean score. Rankers, all judged like for like on the same runs:

- ``<feature set>`` (a *mixture*): the same tuned learner (ridge by default) on the cell means (one per sparsity
  level, never penalised) + that feature set, fitted per (model, dataset) with the pruner left out
  (leave-one-pruner-out), so a pruner is ranked by a model that never saw it. One per available set:
  multipartite, rolled, rolled_channel, ramanujan, density. A run's score is the features' part of its
  prediction (its prediction minus what the cell means of its fold predict; :func:`.learners.out_of_fold`), so
  that leaving a pruner out of the training means does not rank it.
- ``<metric>`` (a single metric, no fitting): a Ramanujan summary itself, higher = better (Hoang et al.), e.g.
  ``imdb_norm_mean`` (Δr-imdb) and ``iterative_weighted_spectral_gap_mean``.

Agreement: Kendall τ-b between the two rankings, and whether both put the same pruner first.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import polars as pl
from scipy.stats import kendalltau

from . import features as F
from .learners import out_of_fold
from .published import RUN_KEYS

SCHEMA = {"model": pl.String, "dataset": pl.String, "sparsity": pl.Float64, "ranker": pl.String,
          "kind": pl.String, "n_pruners": pl.Int64, "kendall_tau": pl.Float64, "top1_agreement": pl.Boolean,
          "true_best": pl.String, "predicted_best": pl.String}


def ranking_agreement(frame: pl.DataFrame, truth: str, score: str, by: Sequence[str],
                      item: str = "pruner") -> pl.DataFrame:
    """Per group ``by``: Kendall τ-b between ``truth`` and ``score`` over the items (means over the group's
    other rows, e.g. seeds), and whether both put the same item first (higher = better for both)."""
    means = (frame.group_by(list(by) + [item]).agg(pl.col(truth).mean(), pl.col(score).mean())
             .sort(list(by) + [item]))
    rows = []
    for keys, g in sorted(means.group_by(list(by)), key=lambda kv: kv[0]):
        g = g.filter(pl.col(truth).is_not_null() & pl.col(score).is_not_null() & pl.col(score).is_finite())
        t, s, names = g[truth].to_numpy(), g[score].to_numpy(), g[item].to_list()
        if len(t) < 2:
            continue
        tau = None
        if len(t) >= 3 and np.ptp(t) > 0 and np.ptp(s) > 0:
            tau = float(kendalltau(t, s).statistic)
        rows.append({**dict(zip(by, keys)), "n_items": len(t), "kendall_tau": tau,
                     "top1_agreement": names[int(np.argmax(t))] == names[int(np.argmax(s))],
                     "true_best": names[int(np.argmax(t))], "predicted_best": names[int(np.argmax(s))]})
    return pl.DataFrame(rows, orient="row") if rows else pl.DataFrame()


def _scores(frame: pl.DataFrame, sets, options: Mapping[str, Any], names: Sequence[str]) -> dict[str, tuple]:
    """Ranker name -> (kind, score per row: higher = better accuracy) for one architecture's runs."""
    sign = 1.0 if frame["target"][0] == "accuracy" else -1.0  # a larger drop ranks lower
    y, pruners = frame["y"].to_numpy(), frame["pruner"].to_numpy()
    out: dict[str, tuple] = {}
    for fs in names:
        fixed, x, _ = F.design(frame, sets, "cell", fs)
        out[fs] = ("mixture", sign * out_of_fold(options["ranking_learner"], x, y, pruners, seed=options["seed"],
                                                 centred=True, fixed=fixed))
    ram = sets.get("ramanujan")
    for metric in options["ranking_metrics"]:
        if ram is not None and metric in ram[1]:
            joined = frame.select(RUN_KEYS).join(ram[0], on=RUN_KEYS, how="left", maintain_order="left")
            out[metric] = ("metric", joined[metric].cast(pl.Float64).to_numpy())
    return out


def pai_ranking(tables: Mapping[str, pl.DataFrame], options: Mapping[str, Any]) -> pl.DataFrame:
    """A4 table: per (model, dataset, sparsity) and ranker, Kendall τ-b and top-1 agreement with the truth."""
    sets = F.feature_sets(tables)
    base = F.base_runs(tables, options["pruner_set"])
    names = [s for s in F.FEATURE_SETS if s in sets]
    frame_all = F.covered(base, sets, names)
    parts = []
    for (model, dataset), frame in sorted(frame_all.group_by(F.ARCH), key=lambda kv: kv[0]):
        frame = frame.sort(RUN_KEYS)
        if frame["pruner"].n_unique() < 3:
            continue
        scored = frame.select(RUN_KEYS + ["accuracy"])
        for ranker, (kind, score) in _scores(frame, sets, options, names).items():
            agreement = ranking_agreement(scored.with_columns(pl.Series("score", score, dtype=pl.Float64)
                                                              .fill_nan(None)),
                                          "accuracy", "score", by=["model", "dataset", "sparsity"])
            if agreement.height:
                parts.append(agreement.with_columns(pl.lit(ranker).alias("ranker"), pl.lit(kind).alias("kind"))
                             .rename({"n_items": "n_pruners"}))
    if not parts:
        return pl.DataFrame(schema=SCHEMA)
    out = pl.concat(parts, how="diagonal_relaxed").select(list(SCHEMA)).cast(SCHEMA)
    return out.sort(["model", "dataset", "sparsity", "ranker"]).with_columns(pl.col(pl.Float64).fill_nan(None))


def pai_ranking_summary(ranking: pl.DataFrame) -> pl.DataFrame:
    """Mean Kendall τ (and its spread) and top-1 agreement rate of each ranker, per model and overall."""
    agg = [pl.len().alias("groups"), pl.col("kendall_tau").mean().alias("mean_tau"),
           pl.col("kendall_tau").std().alias("std_tau"),
           pl.col("top1_agreement").cast(pl.Float64).mean().alias("top1_rate")]
    per_model = ranking.group_by(["model", "ranker"]).agg(agg)
    overall = ranking.group_by(["ranker"]).agg(agg).with_columns(pl.lit("all").alias("model"))
    return pl.concat([per_model, overall.select(per_model.columns)]).sort(["model", "ranker"])
