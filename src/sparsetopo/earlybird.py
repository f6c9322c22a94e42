"""Early-bird tickets: the mask-distance detector (You et al., ICLR 2020) and the spline / activation-pattern
detector (You et al., TMLR 2022), plus the search-and-retrain experiment of the workflow.

Both detectors are pure functions of per-epoch records (index ``e`` = state after ``e`` training epochs; index 0
is the initialisation), so they can be tested on synthetic sequences and re-run with other thresholds without
retraining:

- **mask distance**: channel mask from |BatchNorm γ| at pruning ratio ``p`` with one global threshold over all BN
  layers (``τ = sorted(|γ|)[⌊p·C⌋]``, kept = ``|γ| > τ``); normalised Hamming distance between epochs; a FIFO
  of the last ``window`` = 5 masks; the ticket is drawn at the first epoch whose mask is within ``threshold`` =
  0.1 (≤) of each of the 4 older masks in the FIFO.
- **spline distance**: sign patterns (``> 0``) of every BatchNorm output (pre-ReLU, eval mode, forward hooks) on
  a fixed seeded probe batch, stored with ``np.packbits``; distance between epochs = normalised Hamming distance
  per BN layer averaged over layers (equal weights); the ticket is drawn at the first epoch ``t ≥ lookback``
  with ``max_{s = t-lookback..t-1} d(t, s) < threshold`` (lookback 3, threshold 0.16 as released; the threshold
  does not transfer across model/probe scales, sweep it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
from torch import nn

log = logging.getLogger("sparsetopo.earlybird")

BN_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d)

# ------------------------------------------------------------------------------------ mask-distance detector


def bn_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(name, module) of every BatchNorm1d/2d in registration order."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, BN_TYPES)]


def bn_gammas(model: nn.Module) -> np.ndarray:
    """All |γ| of the BN layers concatenated (C_total,), float64."""
    layers = bn_layers(model)
    if not layers:
        raise ValueError("the model has no BatchNorm layer; early-bird detection needs BN (e.g. mlp batch_norm=True)")
    return np.concatenate([m.weight.detach().abs().double().cpu().numpy() for _, m in layers])


def channel_mask(gammas: np.ndarray, ratio: float) -> np.ndarray:
    """Network-slimming channel mask: kept = |γ| > sorted(|γ|)[⌊ratio·C⌋] (one threshold over all layers)."""
    g = np.abs(np.asarray(gammas, dtype=np.float64))
    if not 0.0 <= ratio < 1.0:
        raise ValueError(f"pruning ratio must be in [0, 1), got {ratio}")
    threshold = np.sort(g)[int(np.floor(ratio * g.size))]
    return g > threshold


def hamming(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised Hamming distance of two boolean vectors."""
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    if a.shape != b.shape:
        raise ValueError(f"masks of different shapes {a.shape} and {b.shape}")
    return float(np.mean(a != b)) if a.size else 0.0


def mask_distance_matrix(masks: np.ndarray) -> np.ndarray:
    """(E, E) normalised Hamming distances between the rows of a boolean (E, C) array."""
    m = np.asarray(masks, dtype=np.float64)
    diff = m @ (1 - m).T
    return (diff + diff.T) / m.shape[1]


def detect_mask_eb(masks: np.ndarray, window: int = 5, threshold: float = 0.1) -> int | None:
    """First index whose mask is within ``threshold`` (≤) of each of the ``window - 1`` previous masks."""
    masks = np.asarray(masks, bool)
    for t in range(window - 1, len(masks)):
        if all(hamming(masks[t], masks[t - k]) <= threshold for k in range(1, window)):
            return t
    return None


# ------------------------------------------------------------------------------------------ spline detector

@dataclass
class PatternRecord:
    """Packed sign patterns of one epoch: one uint8 array per BN layer and its number of bits."""

    packed: list[np.ndarray]
    bits: list[int]


def pack_pattern(active: np.ndarray | torch.Tensor) -> tuple[np.ndarray, int]:
    """(np.packbits of the flattened boolean pattern, number of bits)."""
    a = active.cpu().numpy() if isinstance(active, torch.Tensor) else np.asarray(active)
    flat = a.astype(bool).reshape(-1)
    return np.packbits(flat), int(flat.size)


def packed_hamming(a: np.ndarray, b: np.ndarray, bits: int) -> float:
    """Normalised Hamming distance of two packed patterns (padding bits are zero in both)."""
    if a.shape != b.shape:
        raise ValueError(f"packed patterns of different sizes {a.shape} and {b.shape}")
    return float(np.bitwise_count(np.bitwise_xor(a, b)).sum()) / bits if bits else 0.0


def spline_distance(a: PatternRecord, b: PatternRecord) -> float:
    """Mean over BN layers of the per-layer normalised Hamming distance."""
    if a.bits != b.bits:
        raise ValueError(f"pattern records differ in layer sizes: {a.bits} vs {b.bits}")
    return float(np.mean([packed_hamming(x, y, n) for x, y, n in zip(a.packed, b.packed, a.bits)]))


def spline_distance_matrix(records: Sequence[PatternRecord]) -> np.ndarray:
    """(E, E) spline distances between epochs."""
    n = len(records)
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            out[i, j] = out[j, i] = spline_distance(records[i], records[j])
    return out


def detect_spline_eb(distances: np.ndarray, lookback: int = 3, threshold: float = 0.16) -> int | None:
    """First index t ≥ lookback with max_{s = t-lookback..t-1} d(t, s) < threshold, from an (E, E) matrix."""
    d = np.asarray(distances)
    for t in range(lookback, d.shape[0]):
        if d[t, t - lookback:t].max() < threshold:
            return t
    return None


@torch.no_grad()
def record_patterns(model: nn.Module, probe: torch.Tensor) -> PatternRecord:
    """Sign patterns of every BN output on ``probe`` (eval mode, forward hooks removed afterwards)."""
    outputs: list[torch.Tensor] = []
    handles = [m.register_forward_hook(lambda _m, _i, out: outputs.append(out > 0)) for _, m in bn_layers(model)]
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        model(probe.to(device))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    packed, bits = zip(*(pack_pattern(o) for o in outputs)) if outputs else ((), ())
    return PatternRecord(list(packed), list(bits))


def probe_batch(dataset, size: int, seed: int) -> torch.Tensor:
    """A fixed probe set: ``size`` training inputs drawn without replacement with ``seed``."""
    g = torch.Generator().manual_seed(int(seed))
    index = torch.randperm(len(dataset), generator=g)[: int(size)]
    return torch.stack([dataset[int(i)][0] for i in index])


def l1_bn_penalty(strength: float = 1e-4) -> Callable[[nn.Module], torch.Tensor]:
    """``extra_loss`` for training.train: strength · Σ|γ| over all BN layers (network slimming, s = 1e-4)."""

    def penalty(model: nn.Module) -> torch.Tensor:
        return strength * sum(m.weight.abs().sum() for _, m in bn_layers(model))

    return penalty


# ------------------------------------------------------------------------------------------------- recorder

@dataclass
class EarlyBirdRecorder:
    """``on_epoch_end`` callback: records |γ| and BN sign patterns per epoch and runs both detectors online;
    keeps a copy of the weights at each first detection (for retraining the ticket)."""

    probe: torch.Tensor
    ratios: Sequence[float] = (0.3, 0.5, 0.7)
    window: int = 5
    mask_threshold: float = 0.1
    lookback: int = 3
    spline_threshold: float = 0.16
    gammas: list[np.ndarray] = field(default_factory=list)
    patterns: list[PatternRecord] = field(default_factory=list)
    detections: dict[str, int] = field(default_factory=dict)
    states: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)

    def __call__(self, epoch: int, model: nn.Module) -> None:
        if epoch != len(self.gammas):
            raise RuntimeError(f"recorder expected epoch {len(self.gammas)}, got {epoch}")
        self.gammas.append(bn_gammas(model))
        self.patterns.append(record_patterns(model, self.probe))
        for p in self.ratios:
            key = f"mask_p{p:g}"
            if key not in self.detections and detect_mask_eb(self.masks(p), self.window, self.mask_threshold) == epoch:
                self._detected(key, epoch, model)
        if "spline" not in self.detections and epoch >= self.lookback:
            recent = [spline_distance(self.patterns[epoch], self.patterns[s])
                      for s in range(epoch - self.lookback, epoch)]
            if max(recent) < self.spline_threshold:
                self._detected("spline", epoch, model)

    def _detected(self, key: str, epoch: int, model: nn.Module) -> None:
        self.detections[key] = epoch
        self.states[key] = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        log.info("early-bird ticket %s at epoch %d", key, epoch)

    def masks(self, ratio: float) -> np.ndarray:
        """(epochs, C_total) channel masks at ``ratio``."""
        return np.stack([channel_mask(g, ratio) for g in self.gammas])


# ------------------------------------------------------------------------------------- channel-pruned tickets

def bn_producers(model: nn.Module) -> list[tuple[str, nn.Module, str, nn.Module]]:
    """(bn name, bn, producer name, producer) pairs: each BN's closest preceding Conv2d/Linear (in registration
    order) whose output channels match. Valid for post-activation nets (mlp, conv6, CIFAR ResNets); BN layers
    without such a producer (pre-activation blocks) are skipped."""
    pairs, last = [], None
    for name, module in model.named_modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            last = (name, module)
        elif isinstance(module, BN_TYPES) and last is not None:
            out = last[1].out_channels if isinstance(last[1], nn.Conv2d) else last[1].out_features
            if out == module.num_features:
                pairs.append((name, module, last[0], last[1]))
    return pairs


@torch.no_grad()
def prune_channels(model: nn.Module, ratio: float) -> tuple[dict[str, torch.Tensor], list[torch.Tensor]]:
    """Channel-prune ``model`` in place at ``ratio`` (global |γ| threshold): zero the pruned channels' incoming
    weights, bias and BN γ/β; returns (weight masks of the producing layers, gradient-hook handles that keep the
    BN parameters of pruned channels at zero during further training)."""
    keep = channel_mask(bn_gammas(model), ratio)
    masks, handles, start = {}, [], 0
    bn_offsets = {}
    for name, m in bn_layers(model):
        bn_offsets[name] = (start, start + m.num_features)
        start += m.num_features
    for bn_name, bn, prod_name, prod in bn_producers(model):
        a, b = bn_offsets[bn_name]
        kept = torch.from_numpy(keep[a:b])
        shape = (-1,) + (1,) * (prod.weight.dim() - 1)
        mask = kept.view(shape).expand_as(prod.weight).clone()
        masks[prod_name] = mask
        prod.weight.mul_(mask)
        if prod.bias is not None:
            prod.bias.mul_(kept)
        bn.weight.mul_(kept)
        bn.bias.mul_(kept)
        factor = kept.to(bn.weight.dtype)
        handles.append(bn.weight.register_hook(lambda g, f=factor: g * f.to(g.device)))
        handles.append(bn.bias.register_hook(lambda g, f=factor: g * f.to(g.device)))
        if prod.bias is not None:
            handles.append(prod.bias.register_hook(lambda g, f=factor: g * f.to(g.device)))
    return masks, handles


# ------------------------------------------------------------------------------------------ the experiment

EARLYBIRD_DEFAULTS: dict[str, Any] = {
    "dataset": "digits", "image_size": 8, "model": "mlp", "model_options": {"hidden": [256, 256, 256],
                                                                          "batch_norm": True},
    "epochs": 24, "lr": 0.1, "momentum": 0.9, "weight_decay": 1e-4, "milestones": [0.5, 0.75], "batch_size": 64,
    "l1": 1e-4, "ratios": [0.3, 0.5, 0.7], "window": 5, "mask_threshold": 0.1, "lookback": 3,
    "spline_threshold": 0.16, "probe_size": 512, "ticket_ratio": 0.5, "final_finetune_epochs": 4,
    "seed": 0,
}


def _settings(opts: Mapping[str, Any], epochs: int | None = None, start_epoch: int = 0):
    """TrainSettings of the search, or of a continuation from ``start_epoch`` with the remaining schedule."""
    from .training import TrainSettings, milestone_epochs

    total = int(opts["epochs"])
    absolute = milestone_epochs(total, tuple(opts["milestones"]))
    remaining = total - start_epoch if epochs is None else epochs
    lr = float(opts["lr"]) * 0.1 ** sum(m <= start_epoch for m in absolute)
    later = tuple((m - start_epoch) / remaining for m in absolute if start_epoch < m < total) if remaining else ()
    return TrainSettings(epochs=remaining, lr=lr, momentum=float(opts["momentum"]),
                         weight_decay=float(opts["weight_decay"]), milestones=later if start_epoch else
                         tuple(opts["milestones"]), batch_size=int(opts["batch_size"]))


def _data(opts: Mapping[str, Any], dataset_path):
    from .data import dataset_info, load_dataset, make_loader

    data_opts = {"image_size": int(opts["image_size"])}
    info = dataset_info(opts["dataset"], data_opts)
    train_set, test_set = load_dataset(opts["dataset"], ".", False, data_opts, embedded_path=dataset_path)
    return (info, train_set, make_loader(train_set, int(opts["batch_size"]), True, int(opts["seed"])),
            make_loader(test_set, 512, False))


def _model(opts: Mapping[str, Any], info) -> nn.Module:
    from .models import build_model

    torch.manual_seed(int(opts["seed"]))
    return build_model(opts["model"], info.input_shape, info.num_classes, **dict(opts["model_options"]))


def search(dataset_path, options: Mapping[str, Any]) -> tuple[EarlyBirdRecorder, Any]:
    """Train the dense BN model with the L1 penalty on γ, recording both signals per epoch; returns
    (recorder with detections and ticket weights, TrainResult)."""
    from .training import train

    opts = {**EARLYBIRD_DEFAULTS, **options}
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
    from .training import evaluate, train

    opts = {**EARLYBIRD_DEFAULTS, **options}
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


# -------------------------------------------------------------------------------------- artifacts and figure

def save_record(path, recorder: EarlyBirdRecorder) -> None:
    """Per-epoch |γ| (epochs, C_total) and packed sign patterns (keys ``patterns/e{e:03d}/l{k}``) as one npz."""
    from .io import atomic_path

    arrays: dict[str, np.ndarray] = {"gammas": np.stack(recorder.gammas),
                                     "pattern_bits": np.asarray(recorder.patterns[0].bits, dtype=np.int64)}
    for e, rec in enumerate(recorder.patterns):
        for k, packed in enumerate(rec.packed):
            arrays[f"patterns/e{e:03d}/l{k}"] = packed
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, **arrays)


def load_record(path) -> tuple[np.ndarray, list[PatternRecord]]:
    """(gammas (epochs, C_total), pattern records per epoch) from :func:`save_record`'s npz."""
    with np.load(path) as data:
        gammas = data["gammas"]
        bits = [int(b) for b in data["pattern_bits"]]
        records = [PatternRecord([data[f"patterns/e{e:03d}/l{k}"] for k in range(len(bits))], bits)
                   for e in range(gammas.shape[0])]
    return gammas, records


def distance_matrices(gammas: np.ndarray, patterns: Sequence[PatternRecord],
                      ratios: Sequence[float]) -> dict[str, np.ndarray]:
    """Epoch x epoch distances: ``mask_p{p}`` for each ratio and ``spline``."""
    out = {f"mask_p{p:g}": mask_distance_matrix(np.stack([channel_mask(g, p) for g in gammas])) for p in ratios}
    out["spline"] = spline_distance_matrix(patterns)
    return out


def detections_from_matrices(matrices: Mapping[str, np.ndarray], gammas: np.ndarray, opts: Mapping[str, Any]
                             ) -> dict[str, int | None]:
    """Detected epochs of every signal, recomputed from the stored records (pure detectors)."""
    out: dict[str, int | None] = {}
    for key in matrices:
        if key.startswith("mask_p"):
            p = float(key[len("mask_p"):])
            out[key] = detect_mask_eb(np.stack([channel_mask(g, p) for g in gammas]), int(opts["window"]),
                                      float(opts["mask_threshold"]))
        else:
            out[key] = detect_spline_eb(matrices[key], int(opts["lookback"]), float(opts["spline_threshold"]))
    return out


def matrices_frame(matrices: Mapping[str, np.ndarray]):
    """Long table (signal, epoch_i, epoch_j, distance) of the distance matrices."""
    import polars as pl

    parts = []
    for key, m in matrices.items():
        i, j = np.indices(m.shape)
        parts.append(pl.DataFrame({"signal": [key] * m.size, "epoch_i": i.reshape(-1).astype(np.int64),
                                   "epoch_j": j.reshape(-1).astype(np.int64), "distance": m.reshape(-1)}))
    return pl.concat(parts)


def plot_distance_matrices(matrices: Mapping[str, np.ndarray], detections: Mapping[str, int | None],
                           paths: Sequence, title: str = "Early-bird distances") -> None:
    """One heatmap per signal (epoch x epoch), the detected epoch marked by lines; PNG and PDF."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    from .io import atomic_path

    keys = list(matrices)
    fig, axes = plt.subplots(1, len(keys), figsize=(3.4 * len(keys) + 0.5, 3.6), squeeze=False,
                             constrained_layout=True)
    for ax, key in zip(axes[0], keys):
        m = matrices[key]
        sns.heatmap(m, cmap="viridis_r", square=True, ax=ax, vmin=0, cbar=True,
                    xticklabels=max(1, m.shape[0] // 6), yticklabels=max(1, m.shape[0] // 6))
        ax.tick_params(labelsize=6)
        epoch = detections.get(key)
        label = "spline (BN sign patterns)" if key == "spline" else f"mask distance p={key[len('mask_p'):]}"
        if epoch is not None:
            ax.axhline(epoch + 0.5, color="red", lw=1)
            ax.axvline(epoch + 0.5, color="red", lw=1)
        ax.set_title(f"{label}\nticket at epoch {epoch if epoch is not None else 'none'}", fontsize=8)
        ax.set_xlabel("epoch", fontsize=7)
        ax.set_ylabel("epoch", fontsize=7)
    fig.suptitle(title, fontsize=10)
    for path in paths:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=150, format=str(path).rsplit(".", 1)[-1])
    plt.close(fig)
