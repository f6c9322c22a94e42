"""Topological metrics of graphs in the common format (``specs/metrics.md``)."""

from .ramanujan import RAMANUJAN_KEYS, ramanujan
from .topo import (LAYER_KEYS, NORM_BY_EDGES, NORM_BY_NODES, TOPOMETRIC_KEYS, graph_file_metrics,
                          layer_metrics, normalised, topometrics)

__all__ = [
    "topometrics", "normalised", "layer_metrics", "ramanujan", "graph_file_metrics",
    "TOPOMETRIC_KEYS", "LAYER_KEYS", "RAMANUJAN_KEYS", "NORM_BY_NODES", "NORM_BY_EDGES",
]
