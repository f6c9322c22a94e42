"""Training of sparse networks: SGD with masked weights that stay exactly zero, resumable after every epoch.

Per step: forward, loss, backward, ``hook.after_backward`` (dense gradients visible to dynamic sparse
training), gradients masked, optimiser step, weights masked. Per epoch: learning-rate drop at a milestone,
``hook.end_epoch``, weights masked, a snapshot of the masks recorded, test accuracy measured, one log line
written, and (with ``checkpoint=``) everything needed to continue saved atomically (see :class:`Checkpoint`).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol

import torch
from torch import nn

from .models import prunable_layers
from .pruning import apply_masks
from .sgd import make_optimizer
from .training_settings import TrainSettings
from .training_state import Checkpoint, capture, restorable, restore

log = logging.getLogger("sparsetopo.training")


class DivergedError(RuntimeError):
    """Training produced a non-finite loss."""


class DynamicSparsity(Protocol):
    """Hook of dynamic sparse training (``sparsetopo.pruning.dynamic``); masks are changed in place."""

    def begin(self, model: nn.Module, masks: dict[str, torch.Tensor], optimizer: Any,
              steps_per_epoch: int, epochs: int) -> None: ...

    def after_backward(self, step: int, model: nn.Module, masks: dict[str, torch.Tensor]) -> None: ...

    def end_epoch(self, epoch: int, model: nn.Module, masks: dict[str, torch.Tensor]) -> None: ...

    def epoch_stats(self) -> dict[str, float]: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: Mapping[str, Any]) -> None: ...


@dataclass
class TrainResult:
    accuracy: float
    test_loss: float
    epochs: list[dict[str, float]]
    seconds: float
    mask_history: list[dict[str, torch.Tensor]] = field(default_factory=list)
    resumed_from: int = 0  # the epoch a checkpoint restored (0: trained from the start)
    masks: dict[str, torch.Tensor] = field(default_factory=dict)  # final masks (on the training device)


def milestone_epochs(epochs: int, fractions: tuple[float, ...]) -> list[int]:
    """Epochs at which the learning rate drops (e.g. 50% and 75% of training)."""
    return sorted({max(1, int(round(f * epochs))) for f in fractions if 0 < f < 1})


@torch.no_grad()
def evaluate(model: nn.Module, loader, device: torch.device) -> tuple[float, float]:
    """(top-1 accuracy, mean cross-entropy) over the whole loader."""
    model.eval()
    correct, total, loss = 0, 0, 0.0
    for x, y in loader:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        out = model(x)
        loss += float(nn.functional.cross_entropy(out, y, reduction="sum"))
        correct += int((out.argmax(1) == y).sum())
        total += int(y.numel())
    return correct / max(total, 1), loss / max(total, 1)


def train(model: nn.Module, masks: Mapping[str, torch.Tensor] | None, train_loader, test_loader,
          settings: TrainSettings, device: torch.device | str = "cpu", hook: DynamicSparsity | None = None,
          extra_loss: Callable[[nn.Module], torch.Tensor] | None = None,
          on_epoch_end: Callable[[int, nn.Module], None] | None = None,
          checkpoint: Checkpoint | None = None) -> TrainResult:
    """Train ``model`` in place with ``masks`` enforced after every step; returns accuracy and curves.

    ``extra_loss(model)`` is added to the loss (e.g. an L1 penalty); ``on_epoch_end(epoch, model)`` runs after
    each epoch (epoch 0 = before training, then 1..epochs; not replayed for epochs a checkpoint restores).
    With ``checkpoint``, training continues from the last saved epoch and saves after every epoch; the caller
    removes the file once its outputs are written. On CPU a resumed run ends bit-identical to an
    uninterrupted one (the loaders must be :func:`sparsetopo.data.make_loader` loaders or plain lists).
    """
    device = torch.device(device)
    model.to(device)
    masks = {n: m.to(device) for n, m in (masks or {}).items()}
    layers = dict(prunable_layers(model))
    apply_masks(model, masks)
    optimizer = make_optimizer(model.parameters(), settings.lr, settings.momentum, settings.weight_decay, device)
    milestones = milestone_epochs(settings.epochs, settings.milestones)
    steps_per_epoch = len(train_loader)
    if hook is not None:
        hook.begin(model, masks, optimizer, steps_per_epoch, settings.epochs)
    history = [{n: m.cpu().clone() for n, m in masks.items()}] if settings.record_masks else []
    curves: list[dict[str, float]] = []
    step, first_epoch, elapsed = 0, 1, 0.0
    saved = checkpoint.load() if checkpoint is not None else None
    problem = restorable(saved, model, masks, settings.epochs) if saved is not None else ""
    if problem:
        log.warning("ignoring checkpoint %s: %s; training from the start", checkpoint.path, problem)
        saved = None
    if saved is not None:
        curves, history, step, elapsed = restore(saved, model, masks, optimizer, hook, train_loader)
        first_epoch = int(saved["epoch"]) + 1
        log.info("resuming from checkpoint %s after epoch %d", checkpoint.path, first_epoch - 1)
    elif on_epoch_end is not None:
        on_epoch_end(0, model)
    start = time.perf_counter()
    non_blocking = device.type == "cuda"
    for epoch in range(first_epoch, settings.epochs + 1):
        model.train()
        epoch_start, total_loss, seen = time.perf_counter(), 0.0, 0
        for x, y in train_loader:
            x, y = x.to(device, non_blocking=non_blocking), y.to(device, non_blocking=non_blocking)
            optimizer.zero_grad(set_to_none=False)
            loss = nn.functional.cross_entropy(model(x), y)
            if extra_loss is not None:
                loss = loss + extra_loss(model)
            loss_value = float(loss.detach())
            if not math.isfinite(loss_value):
                raise DivergedError(f"non-finite training loss ({loss_value}) at epoch {epoch}, step {step}; "
                                    f"lower the learning rate or check the inputs")
            loss.backward()
            if hook is not None:
                hook.after_backward(step, model, masks)
            for name, mask in masks.items():
                grad = layers[name].weight.grad
                if grad is not None:
                    grad.mul_(mask)
            optimizer.step()
            apply_masks(model, masks)
            total_loss += loss_value * int(y.numel())
            seen += int(y.numel())
            step += 1
        if epoch in milestones:  # MultiStepLR: the learning rate drops after these epochs
            optimizer.param_groups[0]["lr"] *= settings.gamma
        if hook is not None:
            hook.end_epoch(epoch, model, masks)
            apply_masks(model, masks)
        if settings.record_masks:
            history.append({n: m.cpu().clone() for n, m in masks.items()})
        accuracy, test_loss = evaluate(model, test_loader, device)
        seconds = time.perf_counter() - epoch_start
        curves.append({"epoch": epoch, "train_loss": total_loss / max(seen, 1), "test_loss": test_loss,
                       "accuracy": accuracy, "seconds": seconds, "lr": optimizer.param_groups[0]["lr"],
                       **(hook.epoch_stats() if hook is not None and hasattr(hook, "epoch_stats") else {})})
        log.info("epoch %d/%d loss %.4f test_loss %.4f accuracy %.4f seconds %.1f", epoch, settings.epochs,
                 curves[-1]["train_loss"], test_loss, accuracy, seconds)
        if on_epoch_end is not None:
            on_epoch_end(epoch, model)
        if checkpoint is not None:
            checkpoint.save(capture(epoch, step, elapsed + time.perf_counter() - start, model, masks, optimizer,
                                    hook, train_loader, device, curves, history))
    final_accuracy, final_loss = (curves[-1]["accuracy"], curves[-1]["test_loss"]) if curves else evaluate(
        model, test_loader, device)
    return TrainResult(final_accuracy, final_loss, curves, elapsed + time.perf_counter() - start, history,
                       first_epoch - 1, masks)


def pick_device(preference: str = "auto") -> torch.device:
    """``auto``: CUDA when a GPU is allocated, else CPU; or an explicit torch device string."""
    if preference == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(preference)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {preference!r} requested but no CUDA GPU is available; use `device: auto`")
    return device
