"""Atomic writing and safe reading of the study's artifacts (.pt, .npz, .json, .parquet)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
from pathlib import Path
from typing import Any, Iterator, Mapping


class ArtifactError(RuntimeError):
    """An input artifact is missing, truncated, or does not match what the step expects."""


#: what to do about a damaged artifact of a study (Snakemake remakes a missing output and what depends on it)
REMAKE = "delete it and rerun the workflow, which remakes it"


def _first_line(exc: BaseException) -> str:
    """``Type: first line of the message``, without terminal colour codes."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


def _new_file(folder: Path, prefix: str, suffix: str) -> Path:
    """Create an empty file with a fresh random name in ``folder``, with the permissions of the umask (mode 0o666
    filtered by it, as ``open`` gives; ``tempfile.mkstemp`` would make it private, 0o600, whatever the umask)."""
    for _ in range(100):
        candidate = folder / f"{prefix}{secrets.token_hex(6)}{suffix}"
        try:
            os.close(os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(f"{folder}: no free temporary file name after 100 tries")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds. The file gets
    the permissions the umask gives (so a shared results folder stays readable by the group)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = _new_file(path.parent, f".{path.name}.", ".tmp" + "".join(path.suffixes))
    try:
        yield tmp_path
        with open(tmp_path, "rb") as written:  # the bytes reach the disk before the name points at them
            os.fsync(written.fileno())
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as pretty, key-sorted JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ArtifactError(f"{path}: file not found") from None
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{path}: not valid JSON ({exc}); {REMAKE}") from None


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__} to JSON")


def save_torch(path: str | os.PathLike, obj: Any) -> None:
    """``torch.save``, atomically, through an open file: torch then names the archive's inner folder ``archive``
    (for a path it takes the file's name, here a random temporary one), so equal content gives equal bytes."""
    import torch

    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        torch.save(obj, fh)


def load_torch(path: str | os.PathLike) -> Any:
    """torch.load with ``weights_only=True``: tensors and plain containers only, never arbitrary code."""
    import pickle

    import torch

    path = Path(path)
    if not path.exists():
        raise ArtifactError(f"{path}: file not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(exc))
        raise ArtifactError(
            f"{path}: refused to load; it holds more than tensors and plain containers"
            + (f" (the object {found.group(1)})" if found else "")
            + ", which could run arbitrary code (torch.load with weights_only=True). Only load checkpoints written "
            "by sparsetopo: delete this one and rerun the workflow, which remakes it"
        ) from None
    except (RuntimeError, EOFError, OSError) as exc:
        raise ArtifactError(
            f"{path}: not a readable checkpoint ({_first_line(exc)}); it is truncated or corrupt: {REMAKE}"
        ) from None


PROVENANCE_KEY = "sparsetopo.provenance"
def _parquet(path: str | os.PathLike, read: str):
    """``polars.<read>(path)``; a missing, truncated or corrupt file raises one :class:`ArtifactError` that names it
    and says what to do."""
    import polars as pl

    path = Path(path)
    if not path.exists():
        raise ArtifactError(f"{path}: file not found")
    try:
        return getattr(pl, read)(path)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise ArtifactError(f"{path}: not a readable parquet file ({_first_line(exc)}); it is truncated or "
                            f"corrupt: {REMAKE}") from None


def read_parquet(path: str | os.PathLike):
    """``polars.read_parquet``, with one clear error for a missing, truncated or corrupt file."""
    return _parquet(path, "read_parquet")


def read_parquet_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The key-value metadata of a parquet file (errors as :func:`read_parquet`)."""
    return _parquet(path, "read_parquet_metadata")


@contextlib.contextmanager
def open_npz(path: str | os.PathLike) -> Iterator[Any]:
    """``numpy.load`` of an ``.npz`` archive without pickles, as a context manager; a missing, truncated or corrupt
    archive (also one whose damage shows only when a member is read inside the block) raises one
    :class:`ArtifactError` that names it and says what to do."""
    import zipfile
    import zlib

    import numpy as np

    path = Path(path)
    if not path.exists():
        raise ArtifactError(f"{path}: file not found")
    try:
        with np.load(path, allow_pickle=False) as data:
            yield data
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
        raise ArtifactError(f"{path}: not a readable .npz archive ({_first_line(exc)}); it is truncated or "
                            f"corrupt: {REMAKE}") from None


def write_parquet(path: str | os.PathLike, frame, provenance: Mapping[str, Any] | None = None) -> None:
    """Write a polars DataFrame to parquet atomically (statistics off for stable bytes); ``provenance`` goes into
    the file's key-value metadata under :data:`PROVENANCE_KEY`."""
    metadata = {PROVENANCE_KEY: json.dumps(provenance, sort_keys=True, default=str)} if provenance else None
    with atomic_path(path) as tmp:
        frame.write_parquet(tmp, compression="zstd", statistics=False, metadata=metadata)


def write_csv(path: str | os.PathLike, frame) -> None:
    with atomic_path(path) as tmp:
        frame.write_csv(tmp)


def stable_hash(config: Any) -> str:
    """Short stable hash of a JSON-serialisable object (e.g. the identity of a training checkpoint)."""
    blob = json.dumps(config, sort_keys=True, default=_json_default).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _format_cell(value: Any, digits: int) -> str:
    import math

    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        return f"{value:.{digits}g}"
    return str(value)


def frame_to_markdown(frame, digits: int = 4) -> str:
    """A GitHub-flavoured Markdown table of a polars DataFrame."""
    header = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    rows = ["| " + " | ".join(_format_cell(v, digits) for v in row) + " |" for row in frame.iter_rows()]
    return "\n".join([header, rule, *rows]) + "\n"


def frame_to_latex(frame, digits: int = 4, caption: str = "") -> str:
    """A booktabs LaTeX tabular of a polars DataFrame (special characters escaped)."""

    specials = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "_": r"\_", "#": r"\#", "$": r"\$",
                "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}

    def esc(text: str) -> str:
        return re.sub(r"[\\&%_#$}{~^]", lambda m: specials[m.group(0)], text)

    cols = "l" * len(frame.columns)
    lines = [r"\begin{table}[ht]", r"\centering"]
    if caption:
        lines.append(r"\caption{" + esc(caption) + "}")
    lines += [r"\begin{tabular}{" + cols + "}", r"\toprule",
              " & ".join(esc(c) for c in frame.columns) + r" \\", r"\midrule"]
    lines += [" & ".join(esc(_format_cell(v, digits)) for v in row) + r" \\" for row in frame.iter_rows()]
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def write_table(frame, stem: str | os.PathLike, caption: str = "", formats=("parquet", "csv", "md", "tex"),
                provenance: Mapping[str, Any] | None = None) -> list[Path]:
    """Write one table as ``stem``.parquet/.csv/.md/.tex (each atomically; the parquet file carries
    ``provenance``); returns the paths."""
    stem = Path(stem)
    written = []
    for fmt in formats:
        path = stem.with_name(stem.name + "." + fmt)
        if fmt == "parquet":
            write_parquet(path, frame, provenance)
        elif fmt == "csv":
            write_csv(path, frame)
        else:
            text = frame_to_markdown(frame) if fmt == "md" else frame_to_latex(frame, caption=caption)
            with atomic_path(path) as tmp:
                tmp.write_text(text)
        written.append(path)
    return written
