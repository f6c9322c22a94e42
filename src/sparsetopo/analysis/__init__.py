"""Statistics, tables and figures of the study (A1-A4), on the project's runs or on the main paper's released tables.

- :mod:`sparsetopo.analysis.published`: the released CSVs as the project's collected tables (+ pinned download).
- :mod:`sparsetopo.analysis.stats`: the analyses A1-A4 (polars in, polars out, seeded).
- :mod:`sparsetopo.analysis.figures`: one seaborn figure per function (PNG + PDF).
"""

from .published import TABLE_NAMES, download_published, read_published, resolve_published
from .stats import (ANALYSES, FEATURE_SETS, accuracy_drop_prediction, feature_sets, metric_importance,
                    pai_ranking, pai_ranking_summary, ramanujan_nested_ols, ramanujan_vs_density, read_tables)

__all__ = ["TABLE_NAMES", "ANALYSES", "FEATURE_SETS", "download_published", "read_published", "resolve_published",
           "feature_sets", "read_tables", "ramanujan_vs_density", "ramanujan_nested_ols",
           "accuracy_drop_prediction", "metric_importance", "pai_ranking", "pai_ranking_summary"]
