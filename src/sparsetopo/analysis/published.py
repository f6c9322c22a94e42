"""Reader of the metric tables released with the main paper (github.com/eliacunegatti/mge-snn, ``graph_data/``).

The released CSVs are turned into the project's collected tables (same names, columns and dtypes as
``results/<study>/tables/*.parquet``), so that every analysis runs unchanged on either source.
Quirks handled here (see ``docs/metrics.md`` "Released column names" and ``docs/deviations.md``):

- ``unrolled.csv`` stores most metrics normalised (÷N or ÷E); they go to the ``*_norm`` columns and the raw
  columns are recovered by multiplying back (counts rounded to integers). ``motif`` is a 4-node motif
  estimate (``motifs4``); ``motifs3`` and the signed ``spectral_gap`` were never computed (null); the released
  spectral gap is |λ|1 − |λ|3 (``spectral_gap_paper``). 47 exact duplicate rows are dropped (logged).
- The BGE files come in two layouts (old: 57 columns, with meaningless local-connectivity columns that are
  dropped; new: 21 columns); per-layer values are raw in both.
- The Ramanujan files have no pruner column; they are joined with the rolled file by row order, after
  checking that accuracy, sparsity, seed, layer name, density and edge count agree row by row.
- No dense accuracies are released: ``dense_accuracy`` is null unless supplied
  (``dense_accuracy={dataset: {model: value}}``), and so are the accuracy drops.
- ``collapsed`` flags runs at chance accuracy: ``accuracy <= COLLAPSE_FACTOR / num_classes`` (within 20% of
  chance, the rule of ``sparsetopo.collect`` for the project's runs); the 4 ResNet-32 ProsPr 0.98 runs with NaN
  local metrics are among them and are kept.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterable, Mapping

import polars as pl

from ..collect import layer_summary
from ..metrics.registry import metric_names, metric_specs, released_columns

log = logging.getLogger(__name__)

CHECKSUMS_FILE = Path(__file__).with_name("published_checksums.json")
COLLAPSE_FACTOR = 1.2

MODEL_NAMES = {"CONV-6": "conv6", "Resnet-20": "resnet20", "Resnet-32": "resnet32",
               "Wide-Resnet-28-2": "wrn28_2", "MobileNetV2": "mobilenetv2"}
DATASET_NAMES = {"CIFAR-10": "cifar10", "CIFAR-100": "cifar100", "tinyimagenet": "tinyimagenet"}
NUM_CLASSES = {"mnist5k": 10, "digits": 10, "cifar10": 10, "cifar100": 100, "tinyimagenet": 200}

RUN_KEYS = ["dataset", "model", "pruner", "sparsity", "seed"]
JOINED = ["accuracy", "dense_accuracy", "accuracy_drop", "relative_accuracy_drop", "failed", "collapsed"]

# Column mappings of the released tables, derived from the metric registry (sparsetopo.metrics.registry).
#: multipartite metric -> (released column, normaliser "N"/"E"/None, is an integer count)
MULTIPARTITE_RELEASED: dict[str, tuple[str | None, str | None, bool]] = {
    s.name: (s.released, s.normaliser, s.integer) for s in metric_specs("multipartite")}
MULTIPARTITE_METRICS = list(MULTIPARTITE_RELEASED)
MULTIPARTITE_NORM = [m for m, (_, norm, _) in MULTIPARTITE_RELEASED.items() if norm is not None]

#: per-layer metrics of the released BGE tables: those with a released column or used as features (density is a
#: layer column, LAYER_COLUMNS)
LAYER_METRICS = [s.name for s in metric_specs("layer")
                 if s.name != "density" and (s.feature or s.released_bge_old or s.released_bge_new)]
LAYER_INT = {s.name for s in metric_specs("layer") if s.integer and s.name in LAYER_METRICS}
LAYER_COLUMNS = ["layer", "layer_index", "params", "density"]
RAMANUJAN_METRICS = metric_names("ramanujan")
#: Ramanujan metric -> column of the released Ramanujan files
RAMANUJAN_RELEASED = released_columns("ramanujan")

_BGE_OLD = released_columns("bge_old")
_BGE_NEW = released_columns("bge_new")

TABLE_NAMES = ("multipartite", "rolled", "rolled_channel", "ramanujan",
               "rolled_summary", "rolled_channel_summary", "ramanujan_summary")


class PublishedDataError(RuntimeError):
    """The released data are missing, corrupt, or not laid out as expected."""


class DownloadError(PublishedDataError):
    """A pinned file could not be fetched (no network, server unreachable); a local copy is the way out."""


# ----------------------------------------------------------------------------------------------- locating files
def load_checksums() -> dict[str, Any]:
    """The pinned repository, commit and sha256 of every released file (relative to ``graph_data/``)."""
    return json.loads(CHECKSUMS_FILE.read_text())


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def download_pinned(info: Mapping[str, Any], dest: str | os.PathLike, folder: str, what: str, key: str,
                    example: str, files: Iterable[str] | None = None, timeout: float = 60.0) -> Path:
    """Download ``files`` (default: all) of a pinned manifest ``info`` (as ``published_checksums.json``) from
    ``base_url + folder + "/" + path`` into ``dest``, sha256-checked, atomically; verified files are kept. No network:
    :class:`DownloadError` naming ``what`` and the config ``key`` that takes a local copy (``example``)."""
    from sparsetopo.io import atomic_path

    dest = Path(dest)
    for rel in sorted(info["files"] if files is None else files):
        digest = info["files"][rel]
        target = dest / rel
        if target.exists() and _sha256(target) == digest:
            continue
        url = f"{info['base_url']}{folder}/{rel}"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                blob = response.read()
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            raise DownloadError(
                f"cannot download {what} ({url}: {exc}). Without network access, set `{key}` to a local copy of the "
                f"`{folder}` folder of {info['repository']} at commit {info['commit']} ({example})."
            ) from None
        got = hashlib.sha256(blob).hexdigest()
        if got != digest:
            raise PublishedDataError(f"{url}: sha256 {got} differs from the pinned {digest}; the download is "
                                     f"corrupt or the file changed upstream")
        with atomic_path(target) as tmp:
            tmp.write_bytes(blob)
        log.info("downloaded %s", rel)
    return dest


def download_published(dest: str | os.PathLike, timeout: float = 60.0) -> Path:
    """Download ``graph_data/`` of the pinned commit into ``dest`` (checksums verified); returns ``dest``.

    Files already present with the right checksum are not downloaded again.
    """
    return download_pinned(load_checksums(), dest, "graph_data", "the released data of the main paper",
                           "paper_data_dir", "e.g. `--config paper_data_dir=/path/to/graph_data`", timeout=timeout)


def verify_published(folder: str | os.PathLike, strict: bool = False) -> list[str]:
    """Names of released files under ``folder`` whose sha256 differs from the pinned one (missing files raise).

    With ``strict`` a mismatch raises instead of being returned.
    """
    folder = Path(folder)
    info = load_checksums()
    missing = [rel for rel in info["files"] if not (folder / rel).exists()]
    if missing:
        raise PublishedDataError(f"{folder}: not a copy of the released graph_data folder; missing "
                                 f"{len(missing)} files, e.g. {missing[0]}")
    bad = [rel for rel, digest in sorted(info["files"].items()) if _sha256(folder / rel) != digest]
    if bad and strict:
        raise PublishedDataError(f"{folder}: {len(bad)} files differ from the pinned release, e.g. {bad[0]}")
    for rel in bad:
        log.warning("%s differs from the pinned release (sha256)", rel)
    return bad


# ----------------------------------------------------------------------------------------------- helpers
def _normalise_names(frame: pl.DataFrame, pruner_column: str) -> pl.DataFrame:
    unknown_models = set(frame["model"].unique().to_list()) - set(MODEL_NAMES)
    unknown_data = set(frame["dataset"].unique().to_list()) - set(DATASET_NAMES)
    if unknown_models or unknown_data:
        raise PublishedDataError(f"unknown model/dataset names in the released data: "
                                 f"{sorted(unknown_models | unknown_data)}; known: {sorted(MODEL_NAMES)}, "
                                 f"{sorted(DATASET_NAMES)}")
    exprs = [pl.col("model").replace_strict(MODEL_NAMES).alias("model"),
             pl.col("dataset").replace_strict(DATASET_NAMES).alias("dataset"),
             pl.col("sparsity").cast(pl.Float64), pl.col("seed").cast(pl.Int64)]
    if pruner_column is not None:
        exprs.append(pl.col(pruner_column).str.to_lowercase().alias("pruner"))
    return frame.with_columns(exprs)


def _accuracy_columns(frame: pl.DataFrame, dense_accuracy: Mapping[str, Mapping[str, float]] | None) -> pl.DataFrame:
    """Add the joined accuracy columns (dense accuracy from the mapping, else null) and the flags."""
    rows = [(d, m, float(v)) for d, models in (dense_accuracy or {}).items() for m, v in (models or {}).items()]
    if rows:
        dense = pl.DataFrame(rows, schema={"dataset": pl.String, "model": pl.String, "dense_accuracy": pl.Float64},
                             orient="row")
        frame = frame.join(dense, on=["dataset", "model"], how="left", maintain_order="left")
    else:
        frame = frame.with_columns(pl.lit(None, dtype=pl.Float64).alias("dense_accuracy"))
    chance = pl.col("dataset").replace_strict(NUM_CLASSES, default=None, return_dtype=pl.Float64)
    return frame.with_columns(
        pl.col("accuracy").cast(pl.Float64),
        (pl.col("dense_accuracy") - pl.col("accuracy")).alias("accuracy_drop"),
        ((pl.col("dense_accuracy") - pl.col("accuracy")) / pl.col("dense_accuracy")).alias("relative_accuracy_drop"),
        pl.lit(False).alias("failed"),
        (pl.col("accuracy") <= COLLAPSE_FACTOR / chance).fill_null(False).alias("collapsed"),
    )


def _read_csv(path: Path) -> pl.DataFrame:
    if not path.exists():
        raise PublishedDataError(f"{path}: file not found; `paper_data_dir` must point to the `graph_data` folder "
                                 f"of the release (holding graph_metrics/ and ramanunjan_results/)")
    return pl.read_csv(path, infer_schema_length=None, null_values=["", "nan", "NaN"])


def _drop_duplicates(frame: pl.DataFrame, what: str) -> pl.DataFrame:
    unique = frame.unique(maintain_order=True)
    if unique.height != frame.height:
        log.info("%s: dropped %d exact duplicate rows (%d left)", what, frame.height - unique.height, unique.height)
    return unique


# ----------------------------------------------------------------------------------------------- tables
def read_multipartite(folder: str | os.PathLike,
                      dense_accuracy: Mapping[str, Mapping[str, float]] | None = None) -> pl.DataFrame:
    """The ``multipartite`` table (one row per unique run) from ``graph_metrics/unrolled/unrolled.csv``."""
    raw = _read_csv(Path(folder) / "graph_metrics" / "unrolled" / "unrolled.csv")
    raw = _drop_duplicates(raw, "unrolled.csv")
    frame = _normalise_names(raw, "pruning")
    dup = frame.select(RUN_KEYS).is_duplicated()
    if dup.any():
        raise PublishedDataError(f"unrolled.csv: {int(dup.sum())} rows share run keys with different values")
    n, e = pl.col("nodes").cast(pl.Float64), pl.col("edges").cast(pl.Float64)
    metric_exprs, norm_exprs = [], []
    for metric, (column, norm, integer) in MULTIPARTITE_RELEASED.items():
        if column is None:
            value = pl.lit(None, dtype=pl.Float64)
            metric_exprs.append(value.alias(metric))
            if norm is not None:
                norm_exprs.append(value.alias(metric + "_norm"))
            continue
        stored = pl.col(column).cast(pl.Float64)
        if metric == "mean_component_size":  # released = (N / ncc) / N
            raw_value = stored * n
        elif norm is None:
            raw_value = stored
        else:
            raw_value = stored * (n if norm == "N" else e)
        if integer:
            raw_value = raw_value.round(0).cast(pl.Int64)
        metric_exprs.append(raw_value.alias(metric))
        if norm is not None:
            norm_exprs.append(stored.alias(metric + "_norm"))
    frame = frame.with_columns(metric_exprs + norm_exprs)
    frame = _accuracy_columns(frame, dense_accuracy)
    frame = frame.select(RUN_KEYS + JOINED + MULTIPARTITE_METRICS + [m + "_norm" for m in MULTIPARTITE_NORM])
    return frame.sort(RUN_KEYS)


def _bge_files(folder: Path, encoding: str) -> list[Path]:
    files = sorted((folder / "graph_metrics" / encoding).glob(f"{encoding}-*.csv"))
    if not files:
        raise PublishedDataError(f"{folder / 'graph_metrics' / encoding}: no {encoding}-*.csv files; "
                                 f"`paper_data_dir` must point to the release's `graph_data` folder")
    return files


def _read_bge_file(path: Path) -> pl.DataFrame:
    """One released BGE file in project columns (raw per-layer metrics), original row order kept."""
    raw = _read_csv(path)
    new_schema = "pruning" in raw.columns
    mapping = _BGE_NEW if new_schema else _BGE_OLD
    missing = [c for c in mapping.values() if c not in raw.columns]
    if missing:
        raise PublishedDataError(f"{path.name}: unknown column layout (missing {missing})")
    frame = _normalise_names(raw, "pruning" if new_schema else "pruning_algorithm")
    exprs = [pl.col("layer_name").cast(pl.String).alias("layer"), pl.col("layer_id").cast(pl.Int64).alias("layer_index"),
             pl.col("layer_sparsity").cast(pl.Float64).alias("density")]
    for metric in LAYER_METRICS:
        column = mapping.get(metric)
        value = pl.col(column).cast(pl.Float64) if column else pl.lit(None, dtype=pl.Float64)
        if metric in LAYER_INT:
            value = value.round(0).cast(pl.Int64)
        exprs.append(value.alias(metric))
    return frame.with_columns(exprs)


def _ramanujan_file(folder: Path, path: Path) -> Path:
    stem = path.stem  # rolled-<dataset>-<model>
    model = next((m for m in MODEL_NAMES if stem.endswith("-" + m)), None)
    if model is None:
        raise PublishedDataError(f"{path.name}: cannot tell the model from the file name")
    return folder / "ramanunjan_results" / model / path.name


def _join_ramanujan(rolled: pl.DataFrame, ram_raw: pl.DataFrame, name: str) -> pl.DataFrame:
    """Ramanujan rows joined with the (unmodified, same order) rolled rows; fails loudly when misaligned."""
    if ram_raw.height != rolled.height:
        raise PublishedDataError(f"{name}: {ram_raw.height} Ramanujan rows but {rolled.height} rolled rows; the "
                                 f"files must be row-aligned (the Ramanujan file has no pruner column)")
    ram = _normalise_names(ram_raw, None)
    checks = {
        "accuracy": (ram["accuracy"].cast(pl.Float64) - rolled["accuracy"]).abs() <= 1e-9,
        "sparsity": (ram["sparsity"] - rolled["sparsity"]).abs() <= 1e-9,
        "seed": ram["seed"] == rolled["seed"],
        "model": ram["model"] == rolled["model"],
        "dataset": ram["dataset"] == rolled["dataset"],
        "layer name": ram["layer_name"].cast(pl.String) == rolled["layer"],
        "density": (ram["layer_sparsity"].cast(pl.Float64) - rolled["density"]).abs() <= 1e-6,
        "no_weights == edges": ram["no_weights"].cast(pl.Float64).round(0) == rolled["edges"].cast(pl.Float64),
    }
    for what, ok in checks.items():
        ok = ok.fill_null(False)
        if not ok.all():
            first = int(ok.arg_min())
            raise PublishedDataError(f"{name}: Ramanujan and rolled rows are not aligned ({what} differs at row "
                                     f"{first}, {int((~ok).sum())} rows in all); the join by row order is unsafe")
    values = {
        "params": ram["no_params"].cast(pl.Float64).round(0).cast(pl.Int64) if "no_params" in ram.columns else None,
        **{m: ram[col].cast(pl.Float64) for m, col in RAMANUJAN_RELEASED.items()},
    }
    base = rolled.select(RUN_KEYS + ["accuracy", "layer", "layer_index", "density", "edges"])
    out = base.with_columns(
        *[(pl.Series(k, v) if v is not None else pl.lit(None, dtype=pl.Int64).alias(k)) for k, v in values.items()])
    return out


def _params_from_edges(frame: pl.DataFrame) -> pl.Expr:
    """params = edges / density (density = nonzero / numel), rounded; null when density is 0."""
    return (pl.when(pl.col("density") > 0).then((pl.col("edges") / pl.col("density")).round(0))
            .otherwise(None).cast(pl.Int64))


def read_layer_tables(folder: str | os.PathLike,
                      dense_accuracy: Mapping[str, Mapping[str, float]] | None = None) -> dict[str, pl.DataFrame]:
    """The ``rolled``, ``rolled_channel`` and ``ramanujan`` tables (one row per run and layer)."""
    folder = Path(folder)
    rolled_parts, ram_parts = [], []
    for path in _bge_files(folder, "rolled"):
        rolled = _read_bge_file(path)
        ram_path = _ramanujan_file(folder, path)
        ram = _join_ramanujan(rolled, _read_csv(ram_path), ram_path.name)
        rolled_parts.append(rolled)
        ram_parts.append(ram)
    rolled = pl.concat(rolled_parts, how="diagonal_relaxed")
    ram = pl.concat(ram_parts, how="diagonal_relaxed")
    ram = ram.with_columns(pl.coalesce(pl.col("params"), _params_from_edges(ram)).alias("params"))
    params = ram.select(RUN_KEYS + ["layer_index", "layer", "params"])
    tables: dict[str, pl.DataFrame] = {}
    channel = pl.concat([_read_bge_file(p) for p in _bge_files(folder, "rolled_channel")], how="diagonal_relaxed")
    for name, frame in (("rolled", rolled), ("rolled_channel", channel)):
        frame = _drop_duplicates(frame, name)
        joined = frame.join(params, on=RUN_KEYS + ["layer_index"], how="left", suffix="_rolled",
                            maintain_order="left")
        bad = joined.filter(pl.col("layer_rolled").is_not_null() & (pl.col("layer_rolled") != pl.col("layer")))
        if bad.height:
            raise PublishedDataError(f"{name}: layer names differ from the rolled files for {bad.height} rows")
        if name == "rolled":
            joined = joined.with_columns(pl.coalesce(pl.col("params"), _params_from_edges(joined)).alias("params"))
        joined = _accuracy_columns(joined, dense_accuracy)
        tables[name] = joined.select(RUN_KEYS + JOINED + LAYER_COLUMNS + LAYER_METRICS).sort(RUN_KEYS + ["layer_index"])
    ram = _accuracy_columns(ram, dense_accuracy).with_columns(
        pl.lit(None, dtype=pl.Float64).alias(m) for m in RAMANUJAN_METRICS if m not in ram.columns)
    ram = ram.with_columns(pl.col("imdb_groups").cast(pl.Int64))
    tables["ramanujan"] = _drop_duplicates(
        ram.select(RUN_KEYS + JOINED + LAYER_COLUMNS + RAMANUJAN_METRICS), "ramanujan").sort(RUN_KEYS + ["layer_index"])
    return tables


def read_published(folder: str | os.PathLike,
                   dense_accuracy: Mapping[str, Mapping[str, float]] | None = None,
                   verify: bool = True) -> dict[str, pl.DataFrame]:
    """All collected tables (``TABLE_NAMES``) from a local copy of the release's ``graph_data`` folder."""
    folder = Path(folder)
    if not (folder / "graph_metrics").is_dir() or not (folder / "ramanunjan_results").is_dir():
        raise PublishedDataError(f"{folder}: expected the release's `graph_data` folder (with graph_metrics/ and "
                                 f"ramanunjan_results/); set `paper_data_dir` to it")
    if verify:
        verify_published(folder)
    tables = {"multipartite": read_multipartite(folder, dense_accuracy)}
    tables.update(read_layer_tables(folder, dense_accuracy))
    layer_metrics = {"rolled": LAYER_METRICS, "rolled_channel": LAYER_METRICS,
                     "ramanujan": [m for m in RAMANUJAN_METRICS]}
    for name, metrics in layer_metrics.items():
        tables[name + "_summary"] = layer_summary(tables[name], metrics)
    return {name: tables[name] for name in TABLE_NAMES}


def resolve_published(paper_data_dir: str | os.PathLike | None, download_dir: str | os.PathLike) -> Path:
    """``paper_data_dir`` if given, else the pinned release downloaded into ``download_dir``."""
    if paper_data_dir:
        return Path(paper_data_dir)
    return download_published(download_dir)


def write_published(folder: str | os.PathLike, dense_accuracy: Mapping[str, Mapping[str, float]] | None,
                    out_dir: str | os.PathLike) -> None:
    """The collected tables of the release (parquet with provenance, and CSV) and the job's sidecar
    ``out_dir/published.json``; the inputs recorded are every released CSV with its sha256."""
    import time

    from ..io import write_csv, write_json, write_parquet
    from ..provenance import record

    start = time.perf_counter()
    tables = read_published(folder, dense_accuracy=dense_accuracy)
    csvs = sorted(Path(folder).rglob("*.csv"))
    prov = record("published", {"dense_accuracy": dict(dense_accuracy or {})},
                  inputs={str(p.relative_to(folder)): p for p in csvs}, where=out_dir)
    for name, frame in tables.items():
        write_parquet(Path(out_dir) / f"{name}.parquet", frame, prov)
        write_csv(Path(out_dir) / f"{name}.csv", frame)
    write_json(Path(out_dir) / "published.json", {"provenance": {**prov, "seconds": time.perf_counter() - start}})
