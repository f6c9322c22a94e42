"""What the stages share: threads, dataset shapes, the seeded initial model, checkpoint loading, data loaders."""

from __future__ import annotations

import os
from typing import Any, Mapping

from ..io import ArtifactError, load_torch
from .run import Run


def set_threads(threads: int | None) -> None:
    """Fix the number of CPU threads of torch and of the compiled metric kernels (numba) to the job's threads:
    fair sharing of the cores between jobs (numba's parallel loops wait for every thread at each loop, so a
    thread more than the job's cores stalls them). Results do not depend on either (tested)."""
    import sys

    import torch

    if threads:
        torch.set_num_threads(int(threads))
        if "numba" not in sys.modules:
            os.environ["NUMBA_NUM_THREADS"] = str(int(threads))  # read when numba starts its threads
        else:  # numba may have started its threads: changing the variable now would make numba refuse to run
            import numba

            numba.set_num_threads(min(int(threads), numba.config.NUMBA_NUM_THREADS))


def dataset_info_for(cfg: Mapping[str, Any], dataset: str):
    from ..data import dataset_info

    return dataset_info(dataset, cfg.get("dataset_options", {}).get(dataset))


def build_initial_model(cfg: Mapping[str, Any], run: Run):
    """The model of ``run`` with its seeded Kaiming-normal initial weights."""
    import torch

    from ..models import build_model

    info = dataset_info_for(cfg, run.dataset)
    torch.manual_seed(run.seed)
    return build_model(run.model, info.input_shape, info.num_classes, **cfg.get("model_options", {}).get(run.model, {}))


def loaders(cfg: Mapping[str, Any], run: Run, data_path: str | os.PathLike | None, batch_size: int,
             test_batch: int = 1000, workers: int = 0, pin_memory: bool = False):
    """Seeded train and test loaders; ``workers`` (DataLoader processes) only for datasets read from disk
    (embedded datasets are in-memory tensors: workers would only add start-up time)."""
    from ..data import load_dataset, make_loader

    options = cfg.get("dataset_options", {}).get(run.dataset)
    train, test = load_dataset(run.dataset, cfg.get("data_root", "data"), bool(cfg.get("download", False)),
                               options, embedded_path=data_path)
    workers = 0 if dataset_info_for(cfg, run.dataset).embedded else int(workers)
    return (make_loader(train, batch_size, shuffle=True, seed=run.seed, workers=workers, pin_memory=pin_memory),
            make_loader(test, test_batch, shuffle=False, workers=workers, pin_memory=pin_memory))


def load_checkpoint(path: str | os.PathLike, model) -> dict[str, Any]:
    """Load a prune/train checkpoint into ``model``; check masks and weights match the architecture."""
    from ..models import prunable_layers

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
