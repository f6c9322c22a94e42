"""Per-epoch training state for resumable training: the :class:`Checkpoint` file, what it holds, how it is
validated, and the fingerprints that tie it to one run, config and code version."""

from __future__ import annotations

import hashlib
import logging
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

log = logging.getLogger("sparsetopo.training")

CHECKPOINT_FORMAT = 1


def cpu_copy(obj: Any) -> Any:
    """``obj`` with every tensor detached and copied to the CPU (containers rebuilt)."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu().clone()
    if isinstance(obj, dict):
        return {k: cpu_copy(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(cpu_copy(v) for v in obj)
    return obj


def pack_masks(masks: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    """Boolean masks as shapes and ``np.packbits`` bytes (8x smaller than bool tensors)."""
    return {n: {"shape": list(m.shape), "bits": torch.from_numpy(np.packbits(m.cpu().numpy().reshape(-1)))}
            for n, m in masks.items()}


def unpack_masks(packed: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """Inverse of :func:`pack_masks`."""
    out = {}
    for n, p in packed.items():
        size = int(np.prod(p["shape"]))
        out[n] = torch.from_numpy(np.unpackbits(p["bits"].numpy(), count=size).astype(bool).reshape(p["shape"]))
    return out


def rng_state(device: torch.device) -> dict[str, Any]:
    """The torch (and CUDA on a GPU), numpy and python global RNG states, as tensors and plain containers."""
    key = np.random.get_state()
    return {"torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if device.type == "cuda" else [],
            "numpy": [key[0], torch.from_numpy(key[1].astype(np.int64)), int(key[2]), int(key[3]), float(key[4])],
            "python": random.getstate()}


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Inverse of :func:`rng_state`."""
    torch.set_rng_state(state["torch"])
    if state["cuda"]:
        torch.cuda.set_rng_state_all(state["cuda"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))


def loader_state(loader) -> dict[str, Any]:
    """Sampler position (epoch counter) and the loader's generator state, when the loader has them."""
    out: dict[str, Any] = {}
    sampler = getattr(loader, "sampler", None)
    if hasattr(sampler, "state_dict"):
        out["sampler"] = sampler.state_dict()
    if isinstance(getattr(loader, "generator", None), torch.Generator):
        out["generator"] = loader.generator.get_state()
    return out


def set_loader_state(loader, state: Mapping[str, Any]) -> None:
    if "sampler" in state:
        loader.sampler.load_state_dict(state["sampler"])
    if "generator" in state:
        loader.generator.set_state(state["generator"])


@dataclass
class Checkpoint:
    """Where to keep the per-epoch training state and the ``fingerprint`` (run, config, code, initial weights)
    it must carry to be reused. After every epoch, :func:`train` writes it atomically with: weights, masks,
    optimiser state (momentum buffers, learning rate), epoch and step, RNG states (torch, CUDA, numpy,
    python), the training loader's sampler position and generator, the dynamic-sparsity hook's state, the
    curve so far and the mask history (bit-packed). A missing file means a fresh start; an unreadable one,
    or one with another fingerprint or format, is ignored with a logged warning."""

    path: str | Path
    fingerprint: str

    def load(self) -> dict[str, Any] | None:
        """The saved state, or None (logged) when absent, unreadable or not this run's."""
        from .io import ArtifactError, load_torch

        path = Path(self.path)
        if not path.exists():
            return None
        try:
            state = load_torch(path)
        except ArtifactError as exc:
            log.warning("ignoring checkpoint %s: %s; training from the start", path, exc)
            return None
        except Exception as exc:  # noqa: BLE001  (garbage bytes can fail anywhere inside the unpickler)
            log.warning("ignoring checkpoint %s: not a readable checkpoint (%s: %s); training from the start", path,
                        type(exc).__name__, exc)
            return None
        if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
            log.warning("ignoring checkpoint %s: not a sparsetopo training checkpoint of format %d; training from "
                        "the start", path, CHECKPOINT_FORMAT)
            return None
        if state.get("fingerprint") != self.fingerprint:
            log.warning("ignoring checkpoint %s: it belongs to another run, config or code version (fingerprint "
                        "%s, expected %s); training from the start", path, state.get("fingerprint"),
                        self.fingerprint)
            return None
        return state

    def save(self, state: Mapping[str, Any]) -> None:
        from .io import save_torch

        save_torch(self.path, {"format": CHECKPOINT_FORMAT, "fingerprint": self.fingerprint, **state})

    def remove(self) -> None:
        Path(self.path).unlink(missing_ok=True)


def restorable(state: Mapping[str, Any], model: nn.Module, masks: Mapping[str, torch.Tensor],
                epochs: int) -> str:
    """Why ``state`` cannot be restored into this model and schedule ('' when it can)."""
    try:
        own = model.state_dict()
        saved = state["model"]
        if set(saved) != set(own) or any(tuple(saved[k].shape) != tuple(own[k].shape) for k in own):
            return "its weights do not fit the model"
        if set(state["masks"]) != set(masks) or any(list(masks[n].shape) != state["masks"][n]["shape"]
                                                    for n in masks):
            return "its masks do not fit the model"
        if not 1 <= int(state["epoch"]) <= epochs:
            return f"its epoch {state['epoch']} is outside 1..{epochs}"
        for key in ("optimizer", "rng", "loader", "hook", "curves", "history", "step", "seconds"):
            state[key]  # noqa: B018  (presence check)
    except (KeyError, TypeError, AttributeError) as exc:
        return f"it lacks {exc}"
    return ""


def tensors_fingerprint(tensors: Mapping[str, torch.Tensor]) -> str:
    """Short hash of named tensors (names, dtypes, shapes, bytes), e.g. a run's initial weights and masks."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def capture(epoch: int, step: int, seconds: float, model: nn.Module, masks: Mapping[str, torch.Tensor], optimizer,
            hook, loader, device: torch.device, curves: list, history: list) -> dict[str, Any]:
    """Everything :func:`sparsetopo.training.train` needs to continue after ``epoch`` (CPU copies)."""
    return {"epoch": epoch, "step": step, "seconds": seconds, "model": cpu_copy(model.state_dict()),
            "masks": pack_masks(masks), "optimizer": cpu_copy(optimizer.state_dict()),
            "hook": cpu_copy(hook.state_dict()) if hook is not None else {}, "loader": loader_state(loader),
            "rng": rng_state(device), "curves": list(curves), "history": [pack_masks(h) for h in history]}


def restore(state: Mapping[str, Any], model: nn.Module, masks: Mapping[str, torch.Tensor], optimizer, hook,
            loader) -> tuple[list, list, int, float]:
    """Load :func:`capture`'s state into the live objects (masks in place); returns (curves, mask history,
    step, seconds so far). The state must have passed :func:`restorable`."""
    model.load_state_dict(state["model"])
    for name, mask in unpack_masks(state["masks"]).items():
        masks[name].copy_(mask)
    optimizer.load_state_dict(state["optimizer"])
    if hook is not None:
        hook.load_state_dict(state["hook"])
    set_loader_state(loader, state["loader"])
    set_rng_state(state["rng"])
    return (list(state["curves"]), [unpack_masks(h) for h in state["history"]], int(state["step"]),
            float(state["seconds"]))
