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
from .training_state import Checkpoint, capture, restorable, restore

log = logging.getLogger("sparsetopo.training")

#: defaults of the config's ``training`` section (the schema's defaults; weight_decay None = per model)


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


class SGD:
    """SGD with momentum and (coupled) weight decay: the update of ``torch.optim.SGD`` (no dampening, no
    Nesterov), bit for bit, with the same ``state[param]["momentum_buffer"]``, ``param_groups`` and
    ``state_dict()`` layout, so dynamic-sparsity hooks and checkpoints treat both alike.

    Why our own on CPU: building a ``torch.optim`` optimiser imports ``torch._dynamo`` (3.9-7.7 s in a job's
    process here, more than a whole default-study training job), and no variant steps meaningfully faster.
    ``benchmarks/bench_optimizer.py`` (1 thread, torch 2.14.1, fixed random gradients, momentum 0.9, weight
    decay 1e-4; best of 300 interleaved steps, on a shared 2-core machine) measured, in ms per step:

    ==========  ============  ===============  ================  =================  ==================
    model       ours, loop    ours, foreach    torch, foreach    torch, for-loop    fwd+bwd, batch 32
    ==========  ============  ===============  ================  =================  ==================
    ResNet-20   1.22          0.95             1.13              1.26               445
    CONV-6      4.90          5.13             6.00              5.19               1011
    ==========  ============  ===============  ================  =================  ==================

    All four are within 25% of each other and below 1% of a forward + backward pass, so the CPU path keeps this
    class with the per-tensor loop (fastest for CONV-6's few large tensors; ``foreach=True``, the multi-tensor
    ``torch._foreach_*`` kernels, is bit-identical and slightly faster for ResNet-20's many small ones). On CUDA
    (not measurable here: no GPU) :func:`make_optimizer` uses ``torch.optim.SGD(foreach=True)``, the upstream
    fast path: a few multi-tensor kernel launches per step instead of three per parameter tensor, which is what
    bounds a GPU optimiser step; its import cost is nothing next to a GPU job."""

    def __init__(self, params, lr: float, momentum: float = 0.0, weight_decay: float = 0.0,
                 foreach: bool = False) -> None:
        self.params = [p for p in params if p.requires_grad]
        self.momentum, self.weight_decay, self.foreach = float(momentum), float(weight_decay), bool(foreach)
        self.param_groups = [{"params": self.params, "lr": float(lr), "momentum": self.momentum,
                              "weight_decay": self.weight_decay}]
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
        params = [p for p in self.params if p.grad is not None]
        if self.foreach:
            self._foreach_step(params, lr)
            return
        for p in params:
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

    def _foreach_step(self, params: list[torch.Tensor], lr: float) -> None:
        if not params:
            return
        grads = [p.grad for p in params]
        if self.weight_decay:
            grads = torch._foreach_add(grads, params, alpha=self.weight_decay)
        if self.momentum:
            old = [i for i, p in enumerate(params) if "momentum_buffer" in self.state.get(p, {})]
            if old:
                bufs = [self.state[params[i]]["momentum_buffer"] for i in old]
                torch._foreach_mul_(bufs, self.momentum)
                torch._foreach_add_(bufs, [grads[i] for i in old])
            seen = set(old)
            for i, p in enumerate(params):
                if i not in seen:
                    self.state.setdefault(p, {})["momentum_buffer"] = grads[i].detach().clone()
            grads = [self.state[p]["momentum_buffer"] for p in params]
        torch._foreach_add_(params, grads, alpha=-lr)

    def state_dict(self) -> dict[str, Any]:
        """``torch.optim`` layout: per-parameter state by position, and the hyperparameters."""
        index = {id(p): i for i, p in enumerate(self.params)}
        group = {k: v for k, v in self.param_groups[0].items() if k != "params"}
        return {"state": {index[id(p)]: dict(s) for p, s in self.state.items()},
                "param_groups": [{**group, "params": list(range(len(self.params)))}]}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict` (tensors copied to each parameter's device)."""
        self.param_groups[0].update({k: v for k, v in state["param_groups"][0].items() if k != "params"})
        self.state = {self.params[int(i)]: {k: v.to(self.params[int(i)].device) for k, v in s.items()}
                      for i, s in state["state"].items()}


def make_optimizer(params, settings: "TrainSettings", device: torch.device):
    """The project's :class:`SGD` on CPU; ``torch.optim.SGD(foreach=True)`` on CUDA (its fast path)."""
    if torch.device(device).type == "cuda":
        return torch.optim.SGD(params, lr=settings.lr, momentum=settings.momentum,
                               weight_decay=settings.weight_decay, foreach=True)
    return SGD(params, lr=settings.lr, momentum=settings.momentum, weight_decay=settings.weight_decay)


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
    optimizer = make_optimizer(model.parameters(), settings, device)
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


def dense_weight_decay(model_name: str) -> float:
    """Weight decay of the main paper: 5e-4 for Wide-ResNet, 1e-4 otherwise."""
    return 5e-4 if model_name.startswith("wrn") else 1e-4


def training_for(training_cfg: Mapping[str, Any] | None, dataset: str, model: str) -> dict[str, Any]:
    """The resolved ``training`` section of one run: defaults, then the section's own keys, then
    ``per_dataset.<dataset>``, then ``per_dataset.<dataset>.per_model.<model>``; ``weight_decay: null`` becomes
    the model's default. The result has no ``per_dataset`` key. Every stage reads training settings from here."""
    cfg = dict(training_cfg or {})
    override = dict((cfg.pop("per_dataset", None) or {}).get(dataset) or {})
    per_model = dict((override.pop("per_model", None) or {}).get(model) or {})
    from .schema import section_defaults

    defaults = {k: v for k, v in section_defaults("training").items() if k != "per_dataset"}
    resolved = {**defaults, **cfg, **override, **per_model}
    if resolved["weight_decay"] is None:
        resolved["weight_decay"] = dense_weight_decay(model)
    resolved["milestones"] = list(resolved["milestones"])
    return resolved


def settings_from_config(cfg: Mapping[str, Any], model_name: str, record_masks: bool = False) -> TrainSettings:
    """TrainSettings from a (resolved, see :func:`training_for`) ``training`` section; weight decay per model
    unless set."""
    wd = cfg.get("weight_decay")
    return TrainSettings(
        epochs=int(cfg["epochs"]), lr=float(cfg.get("lr", 0.1)), momentum=float(cfg.get("momentum", 0.9)),
        weight_decay=float(wd) if wd is not None else dense_weight_decay(model_name),
        milestones=tuple(cfg.get("milestones", (0.5, 0.75))), gamma=float(cfg.get("gamma", 0.1)),
        batch_size=int(cfg.get("batch_size", 128)), record_masks=record_masks)
