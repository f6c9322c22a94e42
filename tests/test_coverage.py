"""Coverage of the claims' intervals with few clusters, by simulation through the analysis pipeline itself
(grouped CV, ridge tuned inside the folds, the jackknife with every model refitted): heterogeneous, heavy-tailed
cluster effects (Student t, 3 degrees of freedom, on each cluster's slope and its own effect) and a few clusters
carrying large effects, at 5, 7, 12 and 30 clusters. A nominal 95% interval must cover at least 93%: each test
checks that its observed coverage is consistent with that at its own precision (one-sided, 95%; more studies where
they are cheap, fewer at 30 clusters); the table in docs/statistics.md has 1,000 studies per cell
(docs/scripts/coverage_table.py)."""

from __future__ import annotations

import math

import pytest
from threadpoolctl import threadpool_limits

from sparsetopo.analysis.simulation import coverage


def _lowest_credible(reps: int, share: float = 0.93) -> float:
    return share - 1.645 * math.sqrt(share * (1 - share) / reps)


@pytest.mark.parametrize("clusters,scenario,reps", [(5, "heavy", 300), (7, "heavy", 200), (12, "heavy", 100),
                                                    (30, "heavy", 60), (7, "few_large", 100)])
def test_the_jackknife_with_refits_covers_at_its_nominal_rate(clusters, scenario, reps):
    with threadpool_limits(1, "blas"):
        result = coverage(clusters, scenario, reps, seed=clusters, truth_draws=150, seeds=1)
    assert result["missing"] == 0.0  # every simulated study got an interval
    assert result["coverage"] >= _lowest_credible(reps), result
    assert result["coverage"] <= 1.0 and result["median_half_width"] > 0
