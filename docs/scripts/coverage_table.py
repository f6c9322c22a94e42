"""Coverage of the claims' 95% intervals with few clusters (docs/statistics.md, "Uncertainty with few clusters").

Usage: .venv/bin/python docs/scripts/coverage_table.py [--reps 1000] [--clusters 5 7 12 30]
                                                      [--scenarios gaussian heavy few_large] [--out table.md]

Each cell simulates ``reps`` studies (sparsetopo.analysis.simulation: one architecture, two sparsities, one seed
per cluster) and runs the analysis pipeline itself on each (grouped CV with at most 10 folds, ridge tuned inside
the folds, the jackknife with refits over at most 20 blocks), then counts how often the interval of ΔR² within
cells (cell means + topology over the cell means, pooled) covers the truth: the expected out-of-fold ΔR² of the
same procedure trained on as many clusters as a fold trains on. On the same studies it also counts the coverage of
two intervals that treat the out-of-fold errors as fixed: CR2 with Bell–McCaffrey degrees of freedom, and the
cluster bootstrap-t the project used before.
"""

from __future__ import annotations

import argparse
import time

import polars as pl
from threadpoolctl import threadpool_limits

from sparsetopo.analysis.simulation import coverage
from sparsetopo.io import frame_to_markdown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument("--clusters", type=int, nargs="+", default=[5, 7, 12, 30])
    parser.add_argument("--scenarios", nargs="+", default=["gaussian", "heavy", "few_large"])
    parser.add_argument("--truth-draws", type=int, default=400)
    parser.add_argument("--out", help="also write the table as Markdown here")
    args = parser.parse_args()
    rows = []
    with threadpool_limits(1, "blas"):
        for scenario in args.scenarios:
            for clusters in args.clusters:
                start = time.perf_counter()
                r = coverage(clusters, scenario, args.reps, seed=clusters, truth_draws=args.truth_draws,
                             compare_fixed=True, seeds=1)
                rows.append({"scenario": scenario, "clusters": clusters, "studies": args.reps,
                             "truth ΔR²": round(r["truth"], 3), "jackknife with refits": round(r["coverage"], 3),
                             "median half-width": round(r["median_half_width"], 3),
                             "CR2 + Bell–McCaffrey (fixed errors)": round(r["coverage_cr2_bell_mccaffrey"], 3),
                             "bootstrap-t (fixed errors)": round(r["coverage_bootstrap_t"], 3)})
                print(rows[-1], f"{time.perf_counter() - start:.0f} s", flush=True)
    table = frame_to_markdown(pl.DataFrame(rows))
    print(table)
    if args.out:
        with open(args.out, "w") as f:
            f.write(table)


if __name__ == "__main__":
    main()
