"""The early-bird experiment: train the dense BatchNorm model with the L1 penalty on γ while recording both signals
per epoch (search), then channel-prune each ticket and train it further from its own weights (retrain).

The options are the ``earlybird`` section of the validated study config (defaults in the config schema);
:data:`EARLYBIRD_OPTIONS` names the keys read here."""

from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import nn

from .tickets import EarlyBirdRecorder, l1_bn_penalty, probe_batch, prune_channels

#: keys of the ``earlybird`` config section read by the experiment
EARLYBIRD_OPTIONS = ("dataset", "image_size", "model", "model_options", "epochs", "lr", "momentum", "weight_decay",
                     "milestones", "batch_size", "l1", "ratios", "window", "mask_threshold", "lookback",
                     "spline_threshold", "probe_size", "ticket_ratio", "final_finetune_epochs", "seed")


def earlybird_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The experiment's options out of the ``earlybird`` config section; a missing key is an error naming it."""
    missing = [k for k in EARLYBIRD_OPTIONS if k not in options]
    if missing:
        raise KeyError(f"earlybird options {missing} are missing; pass the `earlybird` section of the validated config "
                       f"(sparsetopo.config.validate_config fills the defaults of src/sparsetopo/schemas/config.schema.yaml)")
    return {k: options[k] for k in EARLYBIRD_OPTIONS}


def _settings(opts: Mapping[str, Any], epochs: int | None = None, start_epoch: int = 0):
    """TrainSettings of the search, or of a continuation from ``start_epoch`` with the remaining schedule."""
    from ..training import TrainSettings, milestone_epochs

    total = int(opts["epochs"])
    absolute = milestone_epochs(total, tuple(opts["milestones"]))
    remaining = total - start_epoch if epochs is None else epochs
    lr = float(opts["lr"]) * 0.1 ** sum(m <= start_epoch for m in absolute)
    later = tuple((m - start_epoch) / remaining for m in absolute if start_epoch < m < total) if remaining else ()
    return TrainSettings(epochs=remaining, lr=lr, momentum=float(opts["momentum"]),
                         weight_decay=float(opts["weight_decay"]), milestones=later if start_epoch else
                         tuple(opts["milestones"]), batch_size=int(opts["batch_size"]))


def _data(opts: Mapping[str, Any], dataset_path):
    from ..data import dataset_info, load_dataset, make_loader

    data_opts = {"image_size": int(opts["image_size"])}
    info = dataset_info(opts["dataset"], data_opts)
    train_set, test_set = load_dataset(opts["dataset"], ".", False, data_opts, embedded_path=dataset_path)
    return (info, train_set, make_loader(train_set, int(opts["batch_size"]), True, int(opts["seed"])),
            make_loader(test_set, 512, False))


def _model(opts: Mapping[str, Any], info) -> nn.Module:
    from ..models import build_model

    torch.manual_seed(int(opts["seed"]))
    return build_model(opts["model"], info.input_shape, info.num_classes, **dict(opts["model_options"]))


def search(dataset_path, options: Mapping[str, Any]) -> tuple[EarlyBirdRecorder, Any]:
    """Train the dense BN model with the L1 penalty on γ, recording both signals per epoch; returns
    (recorder with detections and ticket weights, TrainResult)."""
    from ..training import train

    opts = earlybird_options(options)
    info, train_set, train_loader, test_loader = _data(opts, dataset_path)
    model = _model(opts, info)
    recorder = EarlyBirdRecorder(probe_batch(train_set, int(opts["probe_size"]), int(opts["seed"]) + 1),
                                 tuple(opts["ratios"]), int(opts["window"]), float(opts["mask_threshold"]),
                                 int(opts["lookback"]), float(opts["spline_threshold"]))
    extra = l1_bn_penalty(float(opts["l1"])) if float(opts["l1"]) > 0 else None
    result = train(model, None, train_loader, test_loader, _settings(opts), "cpu", extra_loss=extra,
                   on_epoch_end=recorder)
    recorder.states["final"] = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    recorder.detections["final"] = int(opts["epochs"])
    return recorder, result


def retrain_ticket(dataset_path, options: Mapping[str, Any], state: Mapping[str, torch.Tensor], epoch: int,
                   ratio: float) -> dict[str, float]:
    """Channel-prune the weights ``state`` (taken after ``epoch`` epochs) at ``ratio`` and continue training for
    the remaining epochs of the schedule (EB Train, continuing from the ticket's own weights). A ticket drawn
    at the final epoch is fine-tuned for ``final_finetune_epochs`` at the last learning rate."""
    from ..training import evaluate, train

    opts = earlybird_options(options)
    info, _, train_loader, test_loader = _data(opts, dataset_path)
    model = _model(opts, info)
    model.load_state_dict(dict(state))
    masks, handles = prune_channels(model, ratio)
    pruned_accuracy, _ = evaluate(model, test_loader, torch.device("cpu"))
    remaining = int(opts["epochs"]) - int(epoch)
    if remaining <= 0:
        remaining = int(opts["final_finetune_epochs"])
        epoch = int(opts["epochs"])
    try:
        if remaining > 0:
            extra = l1_bn_penalty(float(opts["l1"])) if float(opts["l1"]) > 0 else None
            result = train(model, masks, train_loader, test_loader, _settings(opts, remaining, int(epoch)), "cpu",
                           extra_loss=extra)
            accuracy = result.accuracy
        else:
            accuracy = pruned_accuracy
    finally:
        for h in handles:
            h.remove()
    total = sum(int(m.numel()) for m in masks.values())
    kept = sum(int(m.sum()) for m in masks.values())
    return {"pruned_accuracy": float(pruned_accuracy), "accuracy": float(accuracy),
            "retrain_epochs": float(max(remaining, 0)), "kept_weight_fraction": kept / total if total else 1.0}
