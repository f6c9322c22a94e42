"""Stage ``train``: prune one network at initialisation, then train it (masked weights stay exactly zero)."""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any, Iterator, Mapping

from ..io import atomic_path, stable_hash, save_torch, write_json
from ..provenance import code_fingerprint, record, to_json
from .common import build_initial_model, dataset_info_for, load_checkpoint, loaders, set_threads
from .run import Run

log = logging.getLogger("sparsetopo.stages.train")


def prune_run(cfg: Mapping[str, Any], run: Run, data_path: str | None, out_pt: str, out_json: str) -> dict[str, Any]:
    """Initialise the model with the run's seed, compute the pruner's masks, save weights + masks."""
    import torch

    from ..encodings import edge_count
    from ..models import prunable_layers
    from ..pruning import PRUNERS, PruneContext, apply_masks, layer_densities, run_pruner
    from ..training import pick_device
    from ..training_settings import training_for

    tcfg = training_for(cfg.get("training"), run.dataset, run.model)
    set_threads(tcfg["threads"])
    start = time.perf_counter()
    pruner = PRUNERS.get(run.pruner)
    info = dataset_info_for(cfg, run.dataset)
    model = build_initial_model(cfg, run)
    options = dict(cfg.get("pruner_options", {}).get(run.pruner, {}))
    batch_size = int(options.get("batch_size", tcfg["batch_size"]))

    def training_batches() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Seeded training batches (a stream independent of the training run's own)."""
        train_loader, _ = loaders(cfg, Run(run.dataset, run.model, run.pruner, run.sparsity, run.seed + 7919),
                                  data_path, batch_size)
        yield from train_loader

    ctx = PruneContext(model=model, sparsity=run.sparsity, seed=run.seed, input_shape=info.input_shape,
                       num_classes=info.num_classes, options=options,
                       batches=training_batches if pruner.needs_data else None,
                       device=pick_device(tcfg["device"]))
    masks = run_pruner(run.pruner, ctx)
    apply_masks(model, masks)
    densities = layer_densities(masks)
    layers = prunable_layers(model)
    total = sum(m.weight.numel() for _, m in layers)
    kept = sum(int(masks[n].sum()) for n, _ in layers)
    prov = record("prune", cfg, run, {"data": data_path}, threads=tcfg["threads"], device=str(ctx.device),
                  where=Path(out_pt).parent)
    save_torch(out_pt, {"state_dict": model.state_dict(), "masks": masks, "run": run.keys(),
                        "provenance": to_json(prov)})
    seconds = time.perf_counter() - start
    summary = {
        **run.keys(), "density": kept / total, "kept": kept, "prunable": total,
        "mge_edges": edge_count(model, info.input_shape),
        "layers": [{"name": n, "shape": list(m.weight.shape), "density": densities[n]} for n, m in layers],
        "options": ctx.options, "seconds": seconds, "provenance": {**prov, "seconds": seconds},
    }
    write_json(out_json, summary)
    return summary


def train_run(cfg: Mapping[str, Any], run: Run, prune_pt: str, data_path: str | None, out_pt: str,
              out_json: str, out_masks: str | None = None, checkpoint: bool | str = True) -> dict[str, Any]:
    """Train the pruned network (masks enforced; dynamic sparse training when the pruner is dynamic).

    ``checkpoint``: True keeps a per-epoch checkpoint ``train.ckpt`` beside ``out_pt`` (a path: there; False:
    none). A rerun after a kill continues from its last epoch (same bytes as an uninterrupted run on CPU); the
    file is removed once the outputs are written. Not a workflow output, so Snakemake never deletes it."""
    import numpy as np
    import torch

    from ..pruning import PRUNERS, layer_densities
    from ..training import DivergedError, pick_device, train
    from ..training_settings import TrainSettings, training_for
    from ..training_state import Checkpoint, tensors_fingerprint

    tcfg = training_for(cfg.get("training"), run.dataset, run.model)
    set_threads(tcfg["threads"])
    pruner = PRUNERS.get(run.pruner)
    model = build_initial_model(cfg, run)
    blob = load_checkpoint(prune_pt, model)
    masks = {n: m.bool() for n, m in blob["masks"].items()}
    settings = TrainSettings.from_section(tcfg, record_masks=pruner.dynamic is not None)
    options = {**pruner.defaults, **cfg.get("pruner_options", {}).get(run.pruner, {})}
    hook = pruner.dynamic(options, run.seed) if pruner.dynamic is not None else None
    device = pick_device(tcfg["device"])
    train_loader, test_loader = loaders(cfg, run, data_path, settings.batch_size, workers=tcfg["workers"],
                                         pin_memory=bool(tcfg["pin_memory"]) and device.type == "cuda")
    ckpt = None
    if checkpoint:  # reused only by this run, config, code version and initial state
        initial = {**{f"w/{k}": v for k, v in blob["state_dict"].items()}, **{f"m/{k}": v for k, v in masks.items()}}
        identity = {"run": run.keys(), "training": tcfg, "device": device.type, "pruner_options": options,
                    "model_options": cfg.get("model_options", {}).get(run.model),
                    "dataset_options": cfg.get("dataset_options", {}).get(run.dataset),
                    "code": code_fingerprint("train", run.pruner)["fingerprint"], "initial": tensors_fingerprint(initial)}
        path = Path(out_pt).with_name("train.ckpt") if checkpoint is True else Path(checkpoint)
        ckpt = Checkpoint(path, stable_hash(identity))
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
    }
    prov = record("train", cfg, run, {"prune": prune_pt, "data": data_path}, threads=tcfg["threads"],
                  device=str(device), where=Path(out_pt).parent)
    summary["provenance"] = {**prov, "seconds": summary["seconds"]}
    if out_masks:
        # dynamic sparse training: masks after every epoch; static pruners: the (unchanging) masks as epoch 0
        history = (result.mask_history if result else []) or [masks]
        with atomic_path(out_masks) as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(fh, **{f"epoch{e:03d}/{n}": m.numpy() for e, snap in enumerate(history)
                                       for n, m in snap.items()})
    save_torch(out_pt, {"state_dict": model.state_dict(), "masks": masks, "run": run.keys(),
                        "provenance": to_json(prov)})
    write_json(out_json, summary)
    if ckpt is not None:
        ckpt.remove()
    return summary
