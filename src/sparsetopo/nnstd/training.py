"""SET training of one network of the NNSTD chain (the project's mlp on embedded data), recording its masks
after every epoch."""

from __future__ import annotations

import logging
import os
from typing import Any, Mapping, Sequence

import numpy as np

from .chain import chain_options
from .distance import TopologyError, as_topology

log = logging.getLogger("sparsetopo.nnstd")


def train_chain_network(topology: Sequence[np.ndarray], dataset_path: str | os.PathLike,
                        options: Mapping[str, Any]):
    """Train the project's mlp with SET from ``topology`` (sparse hidden layers; the dense output layer is not
    evolved); returns (per-epoch masks {f"epoch{e:03d}/{layer}": (out, in) bool}, TrainResult)."""
    import torch

    from ..data import dataset_info, load_dataset, make_loader
    from ..models import build_model, prunable_layers
    from ..pruning.dynamic.random_growth import SETHook
    from ..training import TrainSettings, train

    opts = chain_options(options)
    seed = int(opts["seed"])
    data_opts = {"image_size": int(opts["image_size"])}
    info = dataset_info(opts["dataset"], data_opts)
    train_set, test_set = load_dataset(opts["dataset"], ".", False, data_opts, embedded_path=dataset_path)
    torch.manual_seed(seed)
    model = build_model("mlp", info.input_shape, info.num_classes, hidden=tuple(opts["hidden"]))
    layers = prunable_layers(model)
    topo = as_topology(topology)
    if len(topo) != len(layers):
        raise TopologyError(f"topology has {len(topo)} layers, the mlp has {len(layers)}")
    masks = {}
    for (name, module), m in zip(layers, topo):
        if tuple(module.weight.shape) != m.T.shape:
            raise TopologyError(f"layer {name}: mask {m.T.shape} does not fit weight {tuple(module.weight.shape)}")
        if not m.all():
            masks[name] = torch.from_numpy(np.ascontiguousarray(m.T))
    settings = TrainSettings(epochs=int(opts["epochs"]), lr=float(opts["lr"]), momentum=float(opts["momentum"]),
                             weight_decay=float(opts["weight_decay"]), batch_size=int(opts["batch_size"]),
                             record_masks=True)
    hook = SETHook({"zeta": float(opts["zeta"])}, seed)
    result = train(model, masks, make_loader(train_set, settings.batch_size, True, seed),
                   make_loader(test_set, 512, False), settings, "cpu", hook=hook)
    history = {}
    for epoch, snapshot in enumerate(result.mask_history):
        for name, module in layers:
            mask = snapshot.get(name)
            history[f"epoch{epoch:03d}/{name}"] = (mask.numpy() if mask is not None
                                                   else np.ones(tuple(module.weight.shape), dtype=bool))
    log.info("trained %d epochs, accuracy %.4f, %.1f s", settings.epochs, result.accuracy, result.seconds)
    return history, result
