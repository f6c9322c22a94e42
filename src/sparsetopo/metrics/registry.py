"""The metric registry: every metric is registered once, with everything the rest of the project derives
from it (the keys of ``topometrics`` / ``layer_metrics`` / ``ramanujan``, the ``_norm`` columns, the
columns of the main paper's released tables, and the feature sets of the analyses).

A metric is computed by a function of a :class:`~sparsetopo.metrics.context.MetricContext` that returns
its value, or a dict holding it when one function computes several metrics at once (a *group*: register
each of its metrics with the same function; it runs once per graph). Example::

    @register_metric("sink_share", scope="network", family="local", normaliser=None)
    def sink_share(ctx):
        return float((ctx.out_degree == 0).mean())

Tables: a metric of scope ``network`` or ``both`` is a column of the ``multipartite`` table (MGE, end to
end); of scope ``layer`` or ``both``, of the per-layer tables (``rolled``, ``rolled_channel``), except the
``ramanujan`` family, whose metrics form the ``ramanujan`` table (rolled layers only).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

SCOPES = ("network", "layer", "both")
FAMILIES = ("size", "local", "neighbourhood", "strength", "global", "expansion", "ramanujan")
NORMALISERS = ("N", "E")
TABLES = ("multipartite", "layer", "ramanujan")
#: Layouts of the released tables: ``unrolled.csv`` (MGE), the old (57-column) and new (21-column) BGE
#: files, the Ramanujan files.
RELEASED_LAYOUTS = ("unrolled", "bge_old", "bge_new", "ramanujan")
#: Intermediates a compute function may declare in ``needs`` (see ``MetricContext``).
RESOURCES = ("degrees", "out_csr", "sym", "part_id", "part_pairs")


@dataclass(frozen=True)
class MetricSpec:
    """One registered metric.

    - ``name``: its key and column; ``compute``: function of a ``MetricContext`` returning the value or a
      dict containing ``name`` (shared by the metrics of a group, run once per graph);
    - ``scope``: ``network`` (MGE, end to end), ``layer`` (one BGE layer) or ``both``;
    - ``family``: size, local, neighbourhood, strength, global (connectivity), expansion (spectral), ramanujan;
    - ``normaliser``: ``"N"`` or ``"E"`` gives a ``<name>_norm`` column (÷ nodes or ÷ edges, as the released
      ``unrolled.csv`` stores it), None: no ``_norm`` column;
    - ``released``, ``released_bge_old``, ``released_bge_new``, ``released_ramanujan``: its column in the main
      paper's released tables (``unrolled.csv``; old and new BGE layouts; Ramanujan files), None when absent;
    - ``integer``: an integer count; ``feature``: used as a feature by the analyses;
    - ``needs``: intermediates its compute function uses (``RESOURCES``), so that each is built once and freed
      as soon as no later metric needs it.
    """

    name: str
    compute: Callable[[Any], Any]
    scope: str
    family: str
    normaliser: str | None = None
    released: str | None = None
    released_bge_old: str | None = None
    released_bge_new: str | None = None
    released_ramanujan: str | None = None
    integer: bool = False
    feature: bool = True
    needs: tuple[str, ...] = ()
    description: str = ""

    @property
    def tables(self) -> tuple[str, ...]:
        """The collected tables that hold this metric (``TABLES``)."""
        if self.family == "ramanujan":
            return ("ramanujan",)
        return tuple(t for t, scopes in (("multipartite", ("network", "both")), ("layer", ("layer", "both")))
                     if self.scope in scopes)

    def released_column(self, layout: str) -> str | None:
        """Column in one released layout (``RELEASED_LAYOUTS``)."""
        return {"unrolled": self.released, "bge_old": self.released_bge_old, "bge_new": self.released_bge_new,
                "ramanujan": self.released_ramanujan}[layout]


#: The registry: metric name -> spec, in registration order (the column order of every table).
METRICS: dict[str, MetricSpec] = {}


def register_metric(name: str, compute: Callable[[Any], Any] | None = None, *, scope: str, family: str,
                    normaliser: str | None = None, released: str | None = None,
                    released_bge_old: str | None = None, released_bge_new: str | None = None,
                    released_ramanujan: str | None = None, integer: bool = False, feature: bool = True,
                    needs: tuple[str, ...] | list[str] = (), description: str = ""):
    """Register metric ``name`` computed by ``compute`` (see :class:`MetricSpec` for the fields).

    Without ``compute`` it is a decorator: ``@register_metric("name", scope=..., family=...)``. Returns
    ``compute``. Names are unique; unknown scope, family, normaliser or resource names are refused.
    """

    def add(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
        if name in METRICS:
            raise ValueError(f"metric {name!r} is already registered")
        for value, allowed, what in ((scope, SCOPES, "scope"), (family, FAMILIES, "family")):
            if value not in allowed:
                raise ValueError(f"metric {name!r}: {what} {value!r} is not one of {', '.join(allowed)}")
        if normaliser is not None and normaliser not in NORMALISERS:
            raise ValueError(f"metric {name!r}: normaliser {normaliser!r} is not one of None, 'N', 'E'")
        bad = sorted(set(needs) - set(RESOURCES))
        if bad:
            raise ValueError(f"metric {name!r}: unknown resource(s) {bad}; known: {', '.join(RESOURCES)}")
        if not callable(fn):
            raise TypeError(f"metric {name!r}: compute must be callable")
        METRICS[name] = MetricSpec(name, fn, scope, family, normaliser, released, released_bge_old,
                                   released_bge_new, released_ramanujan, bool(integer), bool(feature),
                                   tuple(needs), description)
        return fn

    return add if compute is None else add(compute)


def unregister_metric(name: str) -> MetricSpec:
    """Remove a registered metric (returns its spec); for tests and interactive use."""
    return METRICS.pop(name)


def _check_table(table: str) -> None:
    if table not in TABLES:
        raise ValueError(f"unknown metric table {table!r}; known: {', '.join(TABLES)}")


def metric_specs(table: str) -> list[MetricSpec]:
    """Specs of the metrics of one table (``multipartite``, ``layer``, ``ramanujan``), registration order."""
    _check_table(table)
    return [s for s in METRICS.values() if table in s.tables]


def metric_names(table: str) -> list[str]:
    """Keys that the table's metric function returns, in order."""
    return [s.name for s in metric_specs(table)]


def feature_columns(table: str) -> list[str]:
    """Collected-table columns that the analyses use as features.

    ``multipartite``: ``<name>_norm`` of the normalised feature metrics, then the raw column of the others
    (the released data's convention); ``layer`` and ``ramanujan``: the per-layer metric names whose
    ``_mean``/``_wmean`` summaries over layers are the features.
    """
    specs = [s for s in metric_specs(table) if s.feature]
    if table == "multipartite":
        return [s.name + "_norm" for s in specs if s.normaliser] + [s.name for s in specs if not s.normaliser]
    return [s.name for s in specs]


def released_columns(layout: str) -> dict[str, str]:
    """Metric -> its column in one released layout (``RELEASED_LAYOUTS``), for the metrics that have one."""
    if layout not in RELEASED_LAYOUTS:
        raise ValueError(f"unknown released layout {layout!r}; known: {', '.join(RELEASED_LAYOUTS)}")
    return {s.name: col for s in METRICS.values() if (col := s.released_column(layout)) is not None}


def normalised(row: Mapping[str, Any]) -> dict[str, float]:
    """The ``_norm`` columns of the released data for the metrics of ``row`` that have a normaliser: ÷N
    (``row["nodes"]``) or ÷E (``row["edges"]``); NaN when the divisor is 0. Missing keys are skipped."""
    n, e = float(row["nodes"]), float(row["edges"])
    out: dict[str, float] = {}
    for spec in METRICS.values():
        if spec.normaliser and spec.name in row:
            div = n if spec.normaliser == "N" else e
            out[spec.name + "_norm"] = float(row[spec.name]) / div if div else float("nan")
    return out
