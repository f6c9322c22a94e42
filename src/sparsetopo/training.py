"""Training of sparse networks: SGD with masked weights that stay exactly zero.

Per step: forward, loss, backward, ``hook.after_backward`` (dense gradients visible to dynamic sparse
training), gradients masked, optimiser step, weights masked. Per epoch: ``hook.end_epoch``, weights masked,
a snapshot of the masks recorded, test accuracy measured, one log line written.
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

log = logging.getLogger("sparsetopo.training")


class DivergedError(RuntimeError):
    """Training produced a non-finite loss."""


class DynamicSparsity(Protocol):
    """Hook of dynamic sparse training (SET, RigL); masks are changed in place."""

    def begin(self, model: nn.Module, masks: dict[str, torch.Tensor], optimizer: "SGD",
              steps_per_epoch: int, epochs: int) -> None: ...

    def after_backward(self, step: int, model: nn.Module, masks: dict[str, torch.Tensor]) -> None: ...

    def end_epoch(self, epoch: int, model: nn.Module, masks: dict[str, torch.Tensor]) -> None: ...


class SGD:
    """SGD with momentum and (coupled) weight decay: the update of ``torch.optim.SGD`` (no dampening, no
    Nesterov). ``torch.optim`` optimisers import ``torch._dynamo`` when built (about 2 s per job, once per
    process); this one does not. ``state[param]["momentum_buffer"]`` and ``param_groups[0]["lr"]`` are laid out
    as in torch.optim, so dynamic-sparsity hooks reset momentum the same way."""

    def __init__(self, params, lr: float, momentum: float = 0.0, weight_decay: float = 0.0) -> None:
        self.params = [p for p in params if p.requires_grad]
        self.momentum, self.weight_decay = float(momentum), float(weight_decay)
        self.param_groups = [{"params": self.params, "lr": float(lr)}]
        self.state: dict[torch.Tensor, dict[str, torch.Tensor]] = {}

    def zero_grad(self, set_to_none: bool = False) -> None:
        for p in self.params:
            if p.grad is not None:
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.zero_()

    @torch.no_grad()
    def step(self) -> None:
        lr = self.param_groups[0]["lr"]
        for p in self.params:
            if p.grad is None:
                continue
            d = p.grad if self.weight_decay == 0 else p.grad.add(p, alpha=self.weight_decay)
            if self.momentum:
                state = self.state.setdefault(p, {})
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = state["momentum_buffer"] = d.detach().clone()
                else:
                    buf.mul_(self.momentum).add_(d)
                d = buf
            p.add_(d, alpha=-lr)


@dataclass
class TrainSettings:
    """Optimiser and schedule (main paper: SGD lr 0.1, momentum 0.9, wd 1e-4, steps at 50%/75%)."""

    epochs: int = 10
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-4
    milestones: tuple[float, ...] = (0.5, 0.75)
    gamma: float = 0.1
    batch_size: int = 128
    record_masks: bool = False


@dataclass
class TrainResult:
    accuracy: float
    test_loss: float
    epochs: list[dict[str, float]]
    seconds: float
    mask_history: list[dict[str, torch.Tensor]] = field(default_factory=list)


def milestone_epochs(epochs: int, fractions: tuple[float, ...]) -> list[int]:
    """Epochs at which the learning rate drops (e.g. 50% and 75% of training)."""
    return sorted({max(1, int(round(f * epochs))) for f in fractions if 0 < f < 1})


@torch.no_grad()
def evaluate(model: nn.Module, loader, device: torch.device) -> tuple[float, float]:
    """(top-1 accuracy, mean cross-entropy) over the whole loader."""
    model.eval()
    correct, total, loss = 0, 0, 0.0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        out = model(x)
        loss += float(nn.functional.cross_entropy(out, y, reduction="sum"))
        correct += int((out.argmax(1) == y).sum())
        total += int(y.numel())
    return correct / max(total, 1), loss / max(total, 1)


def train(model: nn.Module, masks: Mapping[str, torch.Tensor] | None, train_loader, test_loader,
          settings: TrainSettings, device: torch.device | str = "cpu", hook: DynamicSparsity | None = None,
          extra_loss: Callable[[nn.Module], torch.Tensor] | None = None,
          on_epoch_end: Callable[[int, nn.Module], None] | None = None) -> TrainResult:
    """Train ``model`` in place with ``masks`` enforced after every step; returns accuracy and curves.

    ``extra_loss(model)`` is added to the loss (e.g. an L1 penalty); ``on_epoch_end(epoch, model)`` runs after
    each epoch (epoch 0 = before training, then 1..epochs) for per-epoch recording.
    """
    device = torch.device(device)
    model.to(device)
    masks = {n: m.to(device) for n, m in (masks or {}).items()}
    layers = dict(prunable_layers(model))
    apply_masks(model, masks)
    optimizer = SGD(model.parameters(), lr=settings.lr, momentum=settings.momentum,
                    weight_decay=settings.weight_decay)
    milestones = milestone_epochs(settings.epochs, settings.milestones)
    steps_per_epoch = len(train_loader)
    if hook is not None:
        hook.begin(model, masks, optimizer, steps_per_epoch, settings.epochs)
    history = [{n: m.cpu().clone() for n, m in masks.items()}] if settings.record_masks else []
    if on_epoch_end is not None:
        on_epoch_end(0, model)
    curves, step, start = [], 0, time.perf_counter()
    for epoch in range(1, settings.epochs + 1):
        model.train()
        epoch_start, total_loss, seen = time.perf_counter(), 0.0, 0
        for x, y in train_loader:
            x, y = x.to(device), y.to(device)
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
                       "accuracy": accuracy, "seconds": seconds, "lr": optimizer.param_groups[0]["lr"]})
        log.info("epoch %d/%d loss %.4f test_loss %.4f accuracy %.4f seconds %.1f", epoch, settings.epochs,
                 curves[-1]["train_loss"], test_loss, accuracy, seconds)
        if on_epoch_end is not None:
            on_epoch_end(epoch, model)
    final_accuracy, final_loss = (curves[-1]["accuracy"], curves[-1]["test_loss"]) if curves else evaluate(
        model, test_loader, device)
    return TrainResult(final_accuracy, final_loss, curves, time.perf_counter() - start, history)


def pick_device(preference: str = "auto") -> torch.device:
    """``auto``: CUDA when a GPU is allocated, else CPU; or an explicit torch device string."""
    if preference == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(preference)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {preference!r} requested but no CUDA GPU is available; use `device: auto`")
    return device


def dense_weight_decay(model_name: str) -> float:
    """Weight decay of the main paper: 5e-4 for Wide-ResNet, 1e-4 otherwise."""
    return 5e-4 if model_name.startswith("wrn") else 1e-4


def settings_from_config(cfg: Mapping[str, Any], model_name: str, record_masks: bool = False) -> TrainSettings:
    """TrainSettings from the config's ``training`` section (weight decay per model unless set)."""
    wd = cfg.get("weight_decay")
    return TrainSettings(
        epochs=int(cfg["epochs"]), lr=float(cfg.get("lr", 0.1)), momentum=float(cfg.get("momentum", 0.9)),
        weight_decay=float(wd) if wd is not None else dense_weight_decay(model_name),
        milestones=tuple(cfg.get("milestones", (0.5, 0.75))), gamma=float(cfg.get("gamma", 0.1)),
        batch_size=int(cfg.get("batch_size", 128)), record_masks=record_masks)
