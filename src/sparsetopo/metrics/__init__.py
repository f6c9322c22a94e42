"""Topological metrics of graphs in the common format (docs: metrics), registered once each in ``METRICS``.

``topometrics`` (end to end, multipartite encoding), ``layer_metrics`` (one bipartite layer graph) and
``ramanujan`` (one rolled layer) evaluate the registered metrics of their table; ``normalised`` adds the
released data's ``_norm`` columns; ``feature_columns`` names the columns the analyses use. Adding a metric is
one ``register_metric`` call (see ``registry``).
"""

from .registry import (METRICS, MetricSpec, feature_columns, metric_names, metric_specs, normalised,
                       register_metric, released_columns, unregister_metric)
from .topo import LAYER_KEYS, TOPOMETRIC_KEYS, graph_file_metrics, layer_metrics, topometrics
from .ramanujan import RAMANUJAN_KEYS, ramanujan  # noqa: E402  (registered after the topometrics)

__all__ = [
    "METRICS", "MetricSpec", "register_metric", "unregister_metric", "metric_specs", "metric_names",
    "feature_columns", "released_columns", "normalised", "topometrics", "layer_metrics", "ramanujan",
    "graph_file_metrics", "TOPOMETRIC_KEYS", "LAYER_KEYS", "RAMANUJAN_KEYS",
]
