"""Re-deriving an artifact from its recorded inputs and configuration, and checking that the result is the same.

:func:`verify` reads an artifact's provenance (stage, run, the configuration the stage read, inputs with their
sha256, code fingerprint), refuses when the installed code differs from the recorded one (naming the modules,
unless ``force``) or when an input changed since, runs the same stage function in a temporary directory (training
on CPU with the recorded threads), and compares the result with the artifact: identical, or the first difference
(which tensor, column or key, and the values). :func:`audit` does that for a seeded sample of a study's artifacts
and writes ``audit.md``.
"""

from __future__ import annotations

import math
import random
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .artifacts import kind, provenance
from .io import ArtifactError, open_npz, read_json, read_parquet
from .provenance import WALL_TIME_KEYS, changed_modules, sha256


class VerifyError(RuntimeError):
    """The artifact cannot be re-derived here (no provenance, changed code or inputs)."""


@dataclass
class Verdict:
    """Outcome of re-deriving one artifact (``refused``: it could not be re-derived here, ``difference`` says why)."""

    path: str
    stage: str
    identical: bool
    difference: str
    seconds: float
    refused: bool = False

    @property
    def result(self) -> str:
        if self.refused:
            return f"not checked: {self.difference}"
        return "identical" if self.identical else f"different: {self.difference}"


# ------------------------------------------------------------------------------------------------ comparison
def _first_difference(a: Any, b: Any, where: str = "") -> str:
    """'' when equal, else where and how the first difference shows (tensors, arrays, mappings, lists, scalars);
    ``a`` is the file's content, ``b`` the re-derived one, and the text says which value is which."""
    import numpy as np

    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    if hasattr(b, "detach"):
        b = b.detach().cpu().numpy()
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape or a.dtype != b.dtype:
            return f"{where}: shape/dtype in the file {a.shape} {a.dtype}, re-derived {b.shape} {b.dtype}"
        diff = np.flatnonzero(~((a == b) | (a != a) & (b != b))) if a.size else []
        if len(diff):
            i = int(diff[0])
            return (f"{where}: {len(diff)} element(s) differ, first at flat index {i}: the file has {a.flat[i]!r}, "
                    f"re-derived {b.flat[i]!r}")
        return ""
    if isinstance(a, dict) and isinstance(b, dict):
        a = {k: v for k, v in a.items() if k not in WALL_TIME_KEYS}
        b = {k: v for k, v in b.items() if k not in WALL_TIME_KEYS}
        if set(a) != set(b):
            return _one_sided(where, "keys", set(a), set(b))
        for key in sorted(a, key=str):
            found = _first_difference(a[key], b[key], f"{where}/{key}")
            if found:
                return found
        return ""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return f"{where}: the file has {len(a)} items, re-derived {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            found = _first_difference(x, y, f"{where}[{i}]")
            if found:
                return found
        return ""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return ""
    return "" if a == b else f"{where}: the file has {a!r}, re-derived {b!r}"


def _one_sided(where: str, what: str, in_file: set, derived: set) -> str:
    """Which ``what`` (keys, columns) only the file has and which only the re-derived artifact has."""
    sides = [f"only in the file: {sorted(in_file - derived)}" if in_file - derived else "",
             f"only re-derived: {sorted(derived - in_file)}" if derived - in_file else ""]
    return f"{where}: {what} differ; " + "; ".join(s for s in sides if s)


#: what a provenance record says about the artifact itself (the rest says who made it: code, software, device)
DEFINING = ("stage", "run", "config", "inputs")


def _defining(value: Any) -> Any:
    """A provenance record (dict or JSON text) cut to its :data:`DEFINING` entries (inputs by role and sha256:
    where they were read from is not what they are)."""
    import json

    record = json.loads(value) if isinstance(value, str) else value
    if not isinstance(record, dict):
        return record
    out = {k: record.get(k) for k in DEFINING}
    out["inputs"] = {role: entry.get("sha256") for role, entry in (record.get("inputs") or {}).items()}
    return out


def _content(blob: Any) -> Any:
    if isinstance(blob, dict) and "provenance" in blob:
        return {**blob, "provenance": _defining(blob["provenance"])}
    return blob


def compare(original: str | Path, derived: str | Path) -> str:
    """'' when the two artifacts hold the same content, else the first difference. Provenance is compared on
    what defines the artifact (stage, run, configuration, inputs), not on who made it (code, software, device),
    so that a forced re-derivation with other code that gives the same data is identical."""
    original, derived = Path(original), Path(derived)
    if original.read_bytes() == derived.read_bytes():
        return ""
    found = kind(original)
    if found == "checkpoint":
        from .io import load_torch

        return _first_difference(_content(load_torch(original)), _content(load_torch(derived)), original.name)
    if found in ("graph", "masks"):
        with open_npz(original) as a, open_npz(derived) as b:
            return _first_difference(_content({k: a[k] if k != "provenance" else str(a[k]) for k in a.files}),
                                     _content({k: b[k] if k != "provenance" else str(b[k]) for k in b.files}),
                                     original.name)
    if found == "table":
        a, b = read_parquet(original), read_parquet(derived)
        if a.columns != b.columns:
            if set(a.columns) == set(b.columns):
                return f"{original.name}: column order in the file {a.columns}, re-derived {b.columns}"
            return _one_sided(original.name, "columns", set(a.columns), set(b.columns))
        if a.height != b.height:
            return f"{original.name}: the file has {a.height} rows, re-derived {b.height}"
        for column in a.columns:
            x, y = a[column], b[column]
            equal = (x == y) | (x.is_null() & y.is_null())
            if x.dtype.is_float():
                equal = equal | (x.is_nan() & y.is_nan())
            bad = (~equal.fill_null(False)).arg_true()
            if len(bad):
                row = int(bad[0])
                return (f"{original.name}: column {column!r}, row {row}: the file has {x[row]!r}, "
                        f"re-derived {y[row]!r}")
        return _first_difference(_defining(provenance(original)), _defining(provenance(derived)),
                                 f"{original.name} provenance")
    return _first_difference(_content(read_json(original)), _content(read_json(derived)), original.name)


# ------------------------------------------------------------------------------------------------ re-deriving
def _inputs(record: dict[str, Any], folder: Path) -> dict[str, Path]:
    """The recorded inputs, resolved from the artifact's folder, checked against their recorded sha256."""
    out = {}
    for role, entry in record["inputs"].items():
        path = (folder / entry["path"]).resolve()
        if not path.exists():
            raise VerifyError(f"input {role} ({path}) is missing, so the artifact cannot be re-derived; run the "
                              f"workflow (snakemake) to make the input again, then verify")
        if sha256(path) != entry["sha256"]:
            raise VerifyError(f"input {role} ({path}) changed since the artifact was made (sha256 differs); "
                              f"the artifact is stale: rerun the workflow")
        out[role] = path
    return out


def rederive(path: str | Path, workdir: str | Path, force: bool = False) -> tuple[str, Path]:
    """Recompute the artifact at ``path`` into ``workdir`` with the stage that made it; (stage, new file)."""
    path = Path(path)
    record = provenance(path)
    if record is None:
        raise VerifyError(f"{path}: carries no provenance record (it was not written by a stage of the workflow, "
                          f"or before the stages recorded provenance), so it cannot be re-derived; to verify it, "
                          f"delete it and rerun the workflow, which remakes it with its provenance")
    stage = record["stage"]
    changed = changed_modules(record["code"]["modules"], stage, (record.get("run") or {}).get("pruner"))
    if changed and not force:
        raise VerifyError(f"{path}: the installed code differs from the code that made it in {', '.join(changed)}; "
                          f"re-deriving would test the new code (use --force to do it anyway)")
    inputs, out = _inputs(record, path.parent), Path(workdir)
    from .stages.params import StageConfig

    cfg = StageConfig(record["config"])
    run = None
    if record.get("run"):
        from .stages.run import run_from

        run = run_from(record["run"])
    if stage == "data":
        from .stages.data import materialise_data

        materialise_data(cfg, path.stem, str(out / f"{path.stem}.npz"), str(out / path.name))
    elif stage == "prune":
        from .stages.train import prune_run

        prune_run(cfg, run, _opt(inputs, "data"), str(out / "prune.pt"), str(out / "prune.json"))
    elif stage == "train":
        from .stages.train import train_run

        _same_device(record)
        train_run(cfg, run, str(inputs["prune"]), _opt(inputs, "data"), str(out / "train.pt"),
                  str(out / "train.json"), str(out / "masks_per_epoch.npz"), checkpoint=False)
    elif stage in ("encode", "metrics"):
        from .stages.measure import encode_and_measure, encode_run

        encodings = list(cfg["encodings"])
        graphs = {e: str(out / f"graph_{e}.npz") for e in encodings}
        if stage == "encode":
            encode_run(cfg, run, str(inputs["weights"]), graphs, _opt(inputs, "train"))
        else:
            names = encodings + (["ramanujan"] if cfg["metrics"].get("ramanujan") and "rolled" in encodings else [])
            graphs.pop("multipartite", None)  # the topometrics need no multipartite file (it may be huge)
            encode_and_measure(cfg, run, str(inputs["weights"]), _opt(inputs, "train"), graphs,
                               {n: str(out / f"metrics_{n}.parquet") for n in names}, str(out / "metrics.json"))
    elif stage == "collect":
        from .collect import collect_study

        paths = [str(p) for p in inputs.values()]
        metric_files: dict[str, list[str]] = {}
        for p in paths:
            if Path(p).name.startswith("metrics_"):
                metric_files.setdefault(Path(p).stem[len("metrics_"):], []).append(p)
        collect_study([p for p in paths if Path(p).name == "train.json"], metric_files,
                      record["config"]["num_classes"], out, record["config"]["tables"])
    elif stage == "published":
        from .analysis.published import write_published

        role, folder = next(iter(inputs.items()))  # roles are paths inside the released folder
        for _ in Path(role).parts:
            folder = folder.parent
        write_published(folder, record["config"]["dense_accuracy"], out)
    elif stage == "analysis":
        from .analysis.catalogue import run_analysis

        options = {k: v for k, v in record["config"].items() if k != "analysis"}
        run_analysis(record["config"]["analysis"], {k: str(v) for k, v in inputs.items()}, options, out,
                     out / "figure.png", out / "figure.pdf")
    elif stage == "claims":
        from .analysis.claims_report import run_claims

        run_claims({k: str(v) for k, v in inputs.items()}, record["config"], "verify", out, out / "figure.png",
                   out / "figure.pdf", out / "verdicts.rst")
    else:
        raise VerifyError(f"{path}: stage {stage!r} cannot be re-derived")
    derived = out / path.name
    if not derived.exists():
        raise VerifyError(f"{path}: stage {stage} did not write {path.name}")
    return stage, derived


def _same_device(record: dict[str, Any]) -> None:
    """Training is re-derived on the kind of device that made it (byte-identity is guaranteed on CPU only)."""
    import torch

    recorded = str(record["device"]["device"])
    if recorded.startswith("cpu") and torch.cuda.is_available() and record["config"]["training"]["device"] == "auto":
        raise VerifyError("this training ran on the CPU and would now run on the GPU (training.device: auto); "
                          "hide the GPU to re-derive it: CUDA_VISIBLE_DEVICES= sparsetopo verify ...")
    if recorded.startswith("cuda") and not torch.cuda.is_available():
        raise VerifyError("this training ran on a GPU; re-derive it on a machine with one")


def _opt(inputs: dict[str, Path], role: str) -> str | None:
    return str(inputs[role]) if role in inputs else None


def verify(path: str | Path, force: bool = False) -> Verdict:
    """Re-derive ``path`` in a temporary directory and compare (see the module docstring)."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sparsetopo-verify-") as tmp:
        stage, derived = rederive(path, tmp, force=force)
        difference = compare(path, derived)
    return Verdict(str(path), stage, not difference, difference, time.perf_counter() - start)


# ------------------------------------------------------------------------------------------------ audit
AUDITED = ("runs/**/prune.pt", "runs/**/train.pt", "runs/**/graph_*.npz", "runs/**/metrics_*.parquet",
           "tables/*.parquet")


def candidates(study_dir: str | Path) -> list[Path]:
    """Every artifact of a finished study that carries provenance, in a stable order."""
    study_dir = Path(study_dir)
    found = sorted({p for pattern in AUDITED for p in study_dir.glob(pattern)})
    return [p for p in found if _readable_provenance(p) is not False]


def _readable_provenance(path: Path) -> dict | None | bool:
    """The artifact's provenance, or False when the file cannot be read (a finding of the audit, not a crash)."""
    try:
        return provenance(path)
    except ArtifactError:
        return False


def audit(study_dir: str | Path, sample: int, seed: int = 0, force: bool = False,
          out: str | Path | None = None) -> list[Verdict]:
    """Verify a seeded random sample of ``sample`` artifacts of the study; write ``out`` (Markdown) if given."""
    pool = candidates(study_dir)
    if not pool:
        raise ArtifactError(f"{study_dir}: no artifact with provenance found; run the study first")
    chosen = sorted(random.Random(seed).sample(pool, min(sample, len(pool))))
    verdicts = []
    for path in chosen:
        try:
            verdicts.append(verify(path, force=force))
        except VerifyError as exc:
            verdicts.append(Verdict(str(path), (provenance(path) or {}).get("stage", "?"), False, str(exc), 0.0,
                                    refused=True))
        except ArtifactError as exc:  # the artifact itself is unreadable: it differs from anything re-derived
            verdicts.append(Verdict(str(path), "?", False, str(exc), 0.0))
    if out is not None:
        from .io import atomic_path

        same = sum(v.identical for v in verdicts)
        refused = sum(v.refused for v in verdicts)
        lines = [f"# Audit of {Path(study_dir).name}", "",
                 f"{len(verdicts)} artifacts drawn at random (seed {seed}) from the {len(pool)} that carry provenance "
                 f"were re-derived from their recorded inputs and configuration with the same stage function, in a "
                 f"temporary directory, and compared with the files: **{same} identical, "
                 f"{len(verdicts) - same - refused} different**" + (f", {refused} not checked (changed code or inputs: "
                                                                     f"the study is stale, rerun it)" if refused else "")
                 + ".", "", "| artifact | stage | result | seconds |", "|---|---|---|---|"]
        lines += [f"| `{Path(v.path).relative_to(study_dir)}` | {v.stage} | {v.result.replace('|', '/')} | "
                  f"{v.seconds:.1f} |" for v in verdicts]
        lines += ["", "Re-derive any artifact yourself: `sparsetopo verify PATH`; inspect it: `sparsetopo inspect PATH`."]
        with atomic_path(out) as tmp:
            Path(tmp).write_text("\n".join(lines) + "\n")
    return verdicts
