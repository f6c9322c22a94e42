"""What made an artifact: the code a stage runs (a fingerprint of its modules), the software and the device.

Code fingerprint of a stage: the stage's entry modules and every ``sparsetopo`` module they import, directly or
not, at module level or inside functions (found by reading the source, not by importing it), with the
``__init__`` of every package on the way (importing a submodule runs it). Each module is hashed from its syntax
tree with docstrings removed, so that editing comments or docstrings changes nothing, while any change of code
does. The stage's fingerprint is the hash of the sorted (module, hash) pairs; the workflow passes it to every rule
as a param, so Snakemake reruns the jobs of a stage whose code changed, and only those (and what depends on them).

Per run: the pruning and training stages run the shared code plus the module of the run's pruner (imported by
name when the pruner is first looked up, ``sparsetopo.pruning.PRUNER_MODULES``), so their fingerprint is one per
pruner: editing one pruner's module reruns that pruner's runs only.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import json
import os
import platform
from pathlib import Path
from typing import Any, Iterable, Mapping

PACKAGE = "sparsetopo"
PACKAGE_DIR = Path(__file__).resolve().parent

#: entry modules of each stage of the workflow (the modules whose functions its scripts call; ``package.*``: the
#: package and every module in it)
STAGE_ENTRIES: dict[str, tuple[str, ...]] = {
    "data": ("sparsetopo.stages.data",),
    "prune": ("sparsetopo.stages.train",),
    "train": ("sparsetopo.stages.train",),
    "encode": ("sparsetopo.stages.measure",),
    "metrics": ("sparsetopo.stages.measure",),
    "collect": ("sparsetopo.collect",),
    "figures": ("sparsetopo.plots", "sparsetopo.analysis.figures", "sparsetopo.graph"),
    "analysis": ("sparsetopo.analysis.catalogue",),
    "claims": ("sparsetopo.analysis.claims_report",),
    "published": ("sparsetopo.analysis.published",),
    "audit": ("sparsetopo.verify",),
    "nnstd": ("sparsetopo.nnstd.*",),
    "earlybird": ("sparsetopo.earlybird.*",),
}
#: stages that run one pruner's code (the run's): their fingerprint adds that pruner's module to the entries
PRUNER_STAGES = ("prune", "train")
SOFTWARE = ("torch", "numpy", "scipy", "rustworkx", "polars", "statsmodels", "scikit-learn")


def _module_file(name: str) -> Path | None:
    """Source file of a ``sparsetopo`` module or package (None if there is none)."""
    rel = Path(*name.split(".")[1:])
    for candidate in (PACKAGE_DIR / rel / "__init__.py", (PACKAGE_DIR / rel).with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _imports(name: str, tree: ast.AST) -> set[str]:
    """``sparsetopo`` modules imported anywhere in ``tree`` (module ``name``), including ``from x import y``
    where ``y`` is a submodule."""
    is_package = _module_file(name) is not None and _module_file(name).name == "__init__.py"
    base = name.split(".") if is_package else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == PACKAGE}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parent = base[: len(base) - node.level + 1]
                module = ".".join(parent + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module.split(".")[0] != PACKAGE:
                continue
            found.add(module)
            found |= {f"{module}.{a.name}" for a in node.names if _module_file(f"{module}.{a.name}")}
    return {m for m in found if _module_file(m)}


def _with_parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


@functools.lru_cache(maxsize=None)
def _parsed(name: str) -> tuple[str, frozenset[str]]:
    """(hash of the module's syntax tree without docstrings, modules it imports)."""
    tree = ast.parse(_module_file(name).read_text())
    imports = frozenset(_imports(name, tree))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(
                    first.value.value, str):
                node.body = node.body[1:] or [ast.Pass()]
    digest = hashlib.sha256(ast.dump(tree, annotate_fields=False).encode()).hexdigest()[:16]
    return digest, imports


def _expand(entry: str) -> list[str]:
    if not entry.endswith(".*"):
        return [entry]
    package = entry[:-2]
    folder = _module_file(package).parent
    return [package] + [f"{package}.{p.stem}" for p in sorted(folder.glob("*.py")) if p.stem != "__init__"]


def module_closure(entries: Iterable[str]) -> list[str]:
    """Every ``sparsetopo`` module the entry modules run (see the module docstring), sorted."""
    seen: set[str] = set()
    todo = [m for e in entries for x in _expand(e) for m in _with_parents(x)]
    while todo:
        name = todo.pop()
        if name in seen or _module_file(name) is None:
            continue
        seen.add(name)
        for imported in _parsed(name)[1]:
            todo += [m for m in _with_parents(imported) if m not in seen]
    return sorted(seen)


@functools.lru_cache(maxsize=None)
def pruner_module(pruner: str) -> str:
    """The module that registers built-in pruner ``pruner``, from the literal table ``PRUNER_MODULES`` of
    ``sparsetopo/pruning/__init__.py`` (read from the source: nothing is imported)."""
    tree = ast.parse(_module_file(f"{PACKAGE}.pruning").read_text())
    table = next(ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.Assign)
                 and any(isinstance(t, ast.Name) and t.id == "PRUNER_MODULES" for t in node.targets))
    if pruner not in table:
        raise ValueError(f"unknown pruner {pruner!r}; known: {', '.join(sorted(table))}")
    return f"{PACKAGE}.pruning.{table[pruner]}"


def stage_entries(stage: str, pruner: str | None = None) -> tuple[str, ...]:
    """The entry modules of ``stage``, with the module of ``pruner`` for the stages that run one pruner."""
    if stage not in STAGE_ENTRIES:
        raise ValueError(f"unknown stage {stage!r}; known: {', '.join(STAGE_ENTRIES)}")
    if stage not in PRUNER_STAGES:
        return STAGE_ENTRIES[stage]
    if pruner is None:
        raise ValueError(f"stage {stage!r} runs one pruner's code: its fingerprint needs the run's pruner")
    return STAGE_ENTRIES[stage] + (pruner_module(pruner),)


def code_fingerprint(stage: str, pruner: str | None = None) -> dict[str, Any]:
    """``{"fingerprint": 16 hex digits, "modules": {module: hash}}`` of the code that ``stage`` runs (for the
    pruning and training stages, that of a run of ``pruner``)."""
    modules = {name: _parsed(name)[0] for name in module_closure(stage_entries(stage, pruner))}
    blob = json.dumps(sorted(modules.items())).encode()
    return {"fingerprint": hashlib.sha256(blob).hexdigest()[:16], "modules": modules}


def changed_modules(recorded: Mapping[str, str], stage: str, pruner: str | None = None) -> list[str]:
    """Modules whose code differs between a recorded fingerprint's ``modules`` and the installed code."""
    now = code_fingerprint(stage, pruner)["modules"]
    return sorted(m for m in set(recorded) | set(now) if recorded.get(m) != now.get(m))


def software_versions() -> dict[str, str]:
    """Versions of python and of the libraries whose behaviour the results depend on."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), PACKAGE: _package_version()}
    for name in SOFTWARE:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "absent"
    return out


def _package_version() -> str:
    from . import __version__

    return __version__


def device_info(threads: int | None = None, device: str = "cpu") -> dict[str, Any]:
    """The device an artifact was computed on: CPU model (or GPU name) and thread count (no host name)."""
    info: dict[str, Any] = {"device": str(device), "threads": int(threads) if threads else os.cpu_count()}
    if str(device).startswith("cuda") and importlib.util.find_spec("torch"):
        import torch

        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info["cpu"] = cpu
    return info


WALL_TIME_KEYS = ("seconds",)


def _without_wall_time(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _without_wall_time(v) for k, v in value.items() if k not in WALL_TIME_KEYS}
    if isinstance(value, list):
        return [_without_wall_time(v) for v in value]
    return value


def sha256(path: str | os.PathLike) -> str:
    """sha256 of a file's content, read in blocks; for a JSON sidecar, of its canonical form without the
    wall-time fields (``seconds``), so that what depends on it stays byte-identical across reruns."""
    if str(path).endswith(".json"):
        content = _without_wall_time(json.loads(Path(path).read_text()))
        return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def record(stage: str, config: Mapping[str, Any], run: Any = None, inputs: Mapping[str, Any] | None = None,
           threads: int | None = None, device: str = "cpu", where: str | os.PathLike | None = None) -> dict[str, Any]:
    """The provenance of an artifact made by ``stage``: run keys, the configuration the stage read, the code
    (project version, fingerprint, module hashes), the software, the device and the inputs with their sha256
    (paths relative to the folder ``where`` the artifact is written, so that a moved results tree still
    resolves them). No timestamp, host name or wall time: artifacts that embed it stay byte-identical across
    reruns (the wall time goes to the job's JSON sidecar only)."""
    pruner = None
    if stage in PRUNER_STAGES:
        pruner = run["pruner"] if isinstance(run, Mapping) else run.pruner
    code = code_fingerprint(stage, pruner)
    base = Path(where) if where is not None else Path.cwd()
    return {"stage": stage, "run": run.keys() if hasattr(run, "keys") and not isinstance(run, Mapping) else run,
            "config": _plain(config),
            "code": {"version": _package_version(), "fingerprint": code["fingerprint"], "modules": code["modules"]},
            "software": software_versions(), "device": device_info(threads, device),
            "inputs": {role: {"path": os.path.relpath(path, base), "sha256": sha256(path)}
                       for role, path in sorted((inputs or {}).items()) if path}}


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def to_json(rec: Mapping[str, Any]) -> str:
    """The record as canonical JSON (sorted keys), as embedded in artifacts."""
    return json.dumps(rec, sort_keys=True, default=str)
