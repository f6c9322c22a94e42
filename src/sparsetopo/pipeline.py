"""The study's stages as plain functions: data, prune, train, encode, measure, collect.

Workflow scripts and the CLI call these; each reads its inputs, writes its outputs atomically, and
returns a small summary. Nothing here imports snakemake.
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

from .io import ArtifactError, config_hash, load_torch, read_json, write_json

log = logging.getLogger("sparsetopo.pipeline")


@dataclass(frozen=True)
class Run:
    """One run of the study: dataset x model x pruner x sparsity x seed."""

    dataset: str
    model: str
    pruner: str
    sparsity: float
    seed: int

    def keys(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def path(self) -> str:
        """Relative folder of the run's artifacts."""
        return f"{self.dataset}/{self.model}/{self.pruner}/s{format_sparsity(self.sparsity)}/seed{self.seed}"


def format_sparsity(sparsity: float) -> str:
    """0.9 -> '0.9', 0.0 -> '0', 0.95 -> '0.95' (the form used in paths)."""
    return f"{float(sparsity):g}"


# ------------------------------------------------------------------------------------------------- set-up

def set_threads(threads: int | None) -> None:
    """Fix the number of CPU threads (determinism and fair sharing of cores between jobs)."""
    import torch

    if threads:
        torch.set_num_threads(int(threads))


def dataset_info_for(cfg: Mapping[str, Any], dataset: str):
    from .data import dataset_info

    return dataset_info(dataset, cfg.get("dataset_options", {}).get(dataset))


def build_initial_model(cfg: Mapping[str, Any], run: Run):
    """The model of ``run`` with its seeded Kaiming-normal initial weights."""
    import torch

    from .models import build_model

    info = dataset_info_for(cfg, run.dataset)
    torch.manual_seed(run.seed)
    return build_model(run.model, info.input_shape, info.num_classes, **cfg.get("model_options", {}).get(run.model, {}))


def _loaders(cfg: Mapping[str, Any], run: Run, data_path: str | os.PathLike | None, batch_size: int,
             test_batch: int = 1000, workers: int = 0, pin_memory: bool = False):
    """Seeded train and test loaders; ``workers`` (DataLoader processes) only for datasets read from disk
    (embedded datasets are in-memory tensors: workers would only add start-up time)."""
    from .data import load_dataset, make_loader

    options = cfg.get("dataset_options", {}).get(run.dataset)
    train, test = load_dataset(run.dataset, cfg.get("data_root", "data"), bool(cfg.get("download", False)),
                               options, embedded_path=data_path)
    workers = 0 if dataset_info_for(cfg, run.dataset).embedded else int(workers)
    return (make_loader(train, batch_size, shuffle=True, seed=run.seed, workers=workers, pin_memory=pin_memory),
            make_loader(test, test_batch, shuffle=False, workers=workers, pin_memory=pin_memory))


# -------------------------------------------------------------------------------------------------- stages

def materialise_data(cfg: Mapping[str, Any], dataset: str, out_npz: str | None, out_json: str) -> dict[str, Any]:
    """Embedded datasets: write the normalised split to ``out_npz``. Others: check they are present
    (or download them when allowed) and write a manifest."""
    from .data import DATASETS, dataset_info, load_dataset, materialise_embedded

    options = cfg.get("dataset_options", {}).get(dataset)
    info = dataset_info(dataset, options)
    if info.embedded:
        manifest = materialise_embedded(dataset, options or {}, out_npz)
    else:
        DATASETS.get(dataset)
        train, test = load_dataset(dataset, cfg.get("data_root", "data"), bool(cfg.get("download", False)), options)
        manifest = {"dataset": dataset, "train": len(train), "test": len(test),
                    "data_root": str(cfg.get("data_root", "data"))}
    manifest.update({"input_shape": list(info.input_shape), "num_classes": info.num_classes})
    write_json(out_json, manifest)
    return manifest


def prune_run(cfg: Mapping[str, Any], run: Run, data_path: str | None, out_pt: str, out_json: str) -> dict[str, Any]:
    """Initialise the model with the run's seed, compute the pruner's masks, save weights + masks."""
    import torch

    from .models import prunable_layers
    from .pruning import PRUNERS, PruneContext, apply_masks, layer_densities, run_pruner
    from .training import pick_device, training_for

    tcfg = training_for(cfg.get("training"), run.dataset, run.model)
    set_threads(tcfg["threads"])
    start = time.perf_counter()
    pruner = PRUNERS.get(run.pruner)
    info = dataset_info_for(cfg, run.dataset)
    model = build_initial_model(cfg, run)
    options = dict(cfg.get("pruner_options", {}).get(run.pruner, {}))
    batches = None
    if pruner.needs_data:
        batch_size = int(options.get("batch_size", tcfg["batch_size"]))

        def batches() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
            train_loader, _ = _loaders(cfg, Run(run.dataset, run.model, run.pruner, run.sparsity, run.seed + 7919),
                                       data_path, batch_size)
            yield from train_loader

    ctx = PruneContext(model=model, sparsity=run.sparsity, seed=run.seed, input_shape=info.input_shape,
                       num_classes=info.num_classes, options=options, batches=batches,
                       device=pick_device(tcfg["device"]))
    masks = run_pruner(run.pruner, ctx)
    apply_masks(model, masks)
    densities = layer_densities(masks)
    layers = prunable_layers(model)
    total = sum(m.weight.numel() for _, m in layers)
    kept = sum(int(masks[n].sum()) for n, _ in layers)
    summary = {
        **run.keys(), "density": kept / total, "kept": kept, "prunable": total,
        "layers": [{"name": n, "shape": list(m.weight.shape), "density": densities[n]} for n, m in layers],
        "options": ctx.options, "seconds": time.perf_counter() - start,
        "config_hash": config_hash(_relevant_config(cfg, "prune")),
    }
    _save_torch_stable(out_pt, {"state_dict": model.state_dict(), "masks": masks, "run": run.keys()})
    write_json(out_json, summary)
    return summary


def _save_torch_stable(path: str | os.PathLike, obj: Any) -> None:
    """``torch.save`` atomically through an open file: the archive's inner folder is then always ``archive`` (for
    a path torch names it after the file, here a random temporary name), so equal content gives equal bytes."""
    import torch

    from .io import atomic_path

    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        torch.save(obj, fh)


def _relevant_config(cfg: Mapping[str, Any], stage: str) -> dict[str, Any]:
    keys = {"prune": ("dataset_options", "model_options", "pruner_options"),
            "train": ("dataset_options", "model_options", "pruner_options", "training")}[stage]
    return {k: cfg.get(k) for k in keys}


def load_checkpoint(path: str | os.PathLike, model) -> dict[str, Any]:
    """Load a prune/train checkpoint into ``model``; check masks and weights match the architecture."""
    from .models import prunable_layers

    blob = load_torch(path)
    if not isinstance(blob, dict) or "state_dict" not in blob or "masks" not in blob:
        raise ArtifactError(f"{path}: not a sparsetopo checkpoint (needs keys 'state_dict' and 'masks')")
    try:
        model.load_state_dict(blob["state_dict"])
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[:3]
        raise ArtifactError(f"{path}: weights do not fit the model ({' '.join(first)}); "
                            f"the checkpoint belongs to another model or input shape") from None
    layers = dict(prunable_layers(model))
    masks = blob["masks"]
    if set(masks) != set(layers):
        raise ArtifactError(f"{path}: masks cover layers {sorted(set(masks) ^ set(layers))} that the model "
                            f"does not have (or miss some); rerun the prune step")
    for name, mask in masks.items():
        if tuple(mask.shape) != tuple(layers[name].weight.shape):
            raise ArtifactError(f"{path}: mask {name} has shape {tuple(mask.shape)}, the layer's weight has "
                                f"{tuple(layers[name].weight.shape)}; rerun the prune step")
    return blob


def train_run(cfg: Mapping[str, Any], run: Run, prune_pt: str, data_path: str | None, out_pt: str,
              out_json: str, out_masks: str | None = None, checkpoint: bool | str = True) -> dict[str, Any]:
    """Train the pruned network (masks enforced; dynamic sparse training when the pruner is dynamic).

    ``checkpoint``: True keeps a per-epoch checkpoint ``train.ckpt`` beside ``out_pt`` (a path: there; False:
    none). A rerun after a kill continues from its last epoch (same bytes as an uninterrupted run on CPU); the
    file is removed once the outputs are written. Not a workflow output, so Snakemake never deletes it."""
    import numpy as np
    import torch

    from .io import atomic_path
    from .pruning import PRUNERS, layer_densities
    from .training import DivergedError, pick_device, settings_from_config, train, training_for
    from .training_state import Checkpoint, library_fingerprint, tensors_fingerprint

    tcfg = training_for(cfg.get("training"), run.dataset, run.model)
    set_threads(tcfg["threads"])
    pruner = PRUNERS.get(run.pruner)
    model = build_initial_model(cfg, run)
    blob = load_checkpoint(prune_pt, model)
    masks = {n: m.bool() for n, m in blob["masks"].items()}
    settings = settings_from_config(tcfg, run.model, record_masks=pruner.dynamic is not None)
    options = {**pruner.defaults, **cfg.get("pruner_options", {}).get(run.pruner, {})}
    hook = pruner.dynamic(options, run.seed) if pruner.dynamic is not None else None
    device = pick_device(tcfg["device"])
    train_loader, test_loader = _loaders(cfg, run, data_path, settings.batch_size, workers=tcfg["workers"],
                                         pin_memory=bool(tcfg["pin_memory"]) and device.type == "cuda")
    ckpt = None
    if checkpoint:  # reused only by this run, config, code version and initial state
        initial = {**{f"w/{k}": v for k, v in blob["state_dict"].items()}, **{f"m/{k}": v for k, v in masks.items()}}
        identity = {"run": run.keys(), "training": tcfg, "device": device.type, "pruner_options": options,
                    "model_options": cfg.get("model_options", {}).get(run.model),
                    "dataset_options": cfg.get("dataset_options", {}).get(run.dataset),
                    "code": library_fingerprint(), "initial": tensors_fingerprint(initial)}
        path = Path(out_pt).with_name("train.ckpt") if checkpoint is True else Path(checkpoint)
        ckpt = Checkpoint(path, config_hash(identity))
    torch.manual_seed(run.seed)
    log.info("training %s on %s (%d epochs, device %s)", run.path, run.dataset, settings.epochs, device)
    failed, reason, result = False, "", None
    try:
        result = train(model, masks, train_loader, test_loader, settings, device=device, hook=hook, checkpoint=ckpt)
    except DivergedError as exc:
        failed, reason = True, str(exc)
        log.error("run %s failed: %s", run.path, reason)
    model.to("cpu")
    masks = {n: m.cpu() for n, m in (result.masks if result else masks).items()}
    summary = {
        **run.keys(), "failed": failed, "reason": reason,
        "accuracy": result.accuracy if result else math.nan,
        "test_loss": result.test_loss if result else math.nan,
        "epochs": result.epochs if result else [], "seconds": result.seconds if result else math.nan,
        "device": str(device), "layer_densities": layer_densities(masks),
        "density": float(sum(int(m.sum()) for m in masks.values()) / sum(m.numel() for m in masks.values())),
        "config_hash": config_hash(_relevant_config(cfg, "train")),
    }
    if out_masks:
        # dynamic sparse training: masks after every epoch; static pruners: the (unchanging) masks as epoch 0
        history = (result.mask_history if result else []) or [masks]
        with atomic_path(out_masks) as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(fh, **{f"epoch{e:03d}/{n}": m.numpy() for e, snap in enumerate(history)
                                       for n, m in snap.items()})
    _save_torch_stable(out_pt, {"state_dict": model.state_dict(), "masks": masks, "run": run.keys()})
    write_json(out_json, summary)
    if ckpt is not None:
        ckpt.remove()
    return summary


def encode_run(cfg: Mapping[str, Any], run: Run, weights_pt: str, outputs: Mapping[str, str],
               train_json: str | None = None) -> dict[str, Any]:
    """Build each requested encoding (``outputs``: encoding -> .npz path) from the run's weights."""
    from .encodings import encode
    from .graph import save_graphs

    ecfg = cfg.get("encoding_options", {})
    set_threads(cfg.get("training", {}).get("threads"))
    model = build_initial_model(cfg, run)
    load_checkpoint(weights_pt, model)
    model.eval()
    info = dataset_info_for(cfg, run.dataset)
    failed = bool(train_json and read_json(train_json).get("failed"))
    summary: dict[str, Any] = {}
    for encoding, path in outputs.items():
        start = time.perf_counter()
        graphs = [] if failed else encode(model, info.input_shape, encoding,
                                          identity_shortcuts=bool(ecfg.get("identity_shortcuts", False)))
        save_graphs(path, graphs, encoding, run={**run.keys(), "failed": failed,
                                                  "weights": ecfg.get("weights", "trained")})
        summary[encoding] = {"graphs": len(graphs), "nodes": sum(g.num_nodes for g in graphs),
                             "edges": sum(g.num_edges for g in graphs), "seconds": time.perf_counter() - start}
        log.info("encoded %s %s: %s", run.path, encoding, summary[encoding])
    return summary


def measure_run(cfg: Mapping[str, Any], run: Run, graphs: Mapping[str, str], outputs: Mapping[str, str]) -> None:
    """Metrics of each graph file; ``outputs`` maps 'multipartite'|'rolled'|'rolled_channel'|'ramanujan' to
    parquet paths (one row per run, or per run and layer)."""
    import polars as pl

    from .graph import load_graphs
    from .io import write_parquet
    from .metrics import layer_metrics, normalised, ramanujan, topometrics

    mcfg = cfg.get("metrics", {})
    seed = int(mcfg.get("seed", 0))
    keys = run.keys()
    for name, out in outputs.items():
        encoding = "rolled" if name == "ramanujan" else name
        start = time.perf_counter()
        _, meta, gs = load_graphs(graphs[encoding])
        rows: list[dict[str, Any]] = []
        if encoding == "multipartite":
            for g in gs:
                row = topometrics(g, seed=seed, motifs4=mcfg.get("motifs4", "auto"),
                                  motif_budget_seconds=float(mcfg.get("motif_budget_seconds", 5.0)))
                rows.append({**keys, **row, **normalised(row)})
        else:
            for g in gs:
                layer = {"layer": g.name, "layer_index": int(g.meta.get("layer_index", 0)),
                         "params": int(g.meta.get("params", 0)), "density": float(g.meta.get("density", math.nan))}
                if name == "ramanujan":
                    values = ramanujan(g, seed=seed)
                else:
                    values = layer_metrics(g, seed=seed)
                values = {k: v for k, v in values.items() if k not in layer}
                rows.append({**keys, **layer, **values})
        if not rows:  # a failed run: keep one row of keys so that the run is counted, with no metrics
            rows = [dict(keys)]
        frame = pl.DataFrame(rows, infer_schema_length=None)
        write_parquet(out, frame)
        log.info("metrics %s %s: %d rows in %.1f s", run.path, name, len(rows), time.perf_counter() - start)


# ------------------------------------------------------------------------------------------ script support

def run_from(wildcards: Mapping[str, Any]) -> Run:
    """The Run named by a rule's wildcards."""
    return Run(str(wildcards["dataset"]), str(wildcards["model"]), str(wildcards["pruner"]),
               float(wildcards["sparsity"]), int(wildcards["seed"]))


class log_to:
    """Context manager: send the library's log records to ``path`` (one line per record); an exception is
    logged with its message before it propagates, so that the rule's log says why the job failed."""

    def __init__(self, path: str | os.PathLike | None) -> None:
        self.path = path
        self.handler: logging.Handler | None = None

    def __enter__(self) -> "log_to":
        root = logging.getLogger()
        root.setLevel(logging.INFO)
        if self.path:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self.handler = logging.FileHandler(self.path, mode="w")
        else:
            self.handler = logging.StreamHandler()
        self.handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(self.handler)
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc is not None:
            logging.getLogger("sparsetopo").error("%s: %s", exc_type.__name__, exc)
        assert self.handler is not None
        logging.getLogger().removeHandler(self.handler)
        self.handler.close()
        return False
