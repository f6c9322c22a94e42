"""Reading topologies for NNSTD: the original study's folders (``weight_l{k}.npz``, scipy sparse, bias row last),
this project's checkpoints (``train.pt``/``prune.pt``) and mask archives (``.npz``, ``masks_per_epoch.npz``)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from .distance import Topology, TopologyError, nnstd

_EPOCH_KEY = re.compile(r"^epoch(\d+)/(.+)$")
_ORIGINAL_FILE = re.compile(r"^weight_l(\d+)\.npz$")
_REFERENCE_NAME = re.compile(r"^(.*)_w(\d+)$")


def _torch_mask_to_layer(name: str, mask, conv: str) -> np.ndarray:
    """A project mask shaped like the weight ((out, in) or (out, in, kh, kw)) -> (fan_in, fan_out) bool."""
    m = np.asarray(mask.cpu().numpy() if hasattr(mask, "cpu") else mask) != 0
    if m.ndim == 2:
        return m.T
    if m.ndim == 4:
        if conv == "channel":
            return m.any(axis=(2, 3)).T
        raise TopologyError(f"layer {name!r} is a convolution (mask shape {m.shape}); NNSTD is defined for fully "
                            f"connected layers. Pass conv='channel' to compare channel-level (c_in, c_out) "
                            f"topologies (a channel pair is connected if any kernel weight is kept)")
    raise TopologyError(f"layer {name!r}: unsupported mask shape {m.shape} (expected 2-D or 4-D)")


def _load_original_folder(path: Path, bias_row: bool) -> Topology:
    files = sorted(((int(_ORIGINAL_FILE.match(p.name).group(1)), p) for p in path.iterdir()
                    if _ORIGINAL_FILE.match(p.name)), key=lambda t: t[0])
    if not files:
        raise TopologyError(f"{path}: no weight_l{{k}}.npz files (original NNSTD folder format)")
    if [k for k, _ in files] != list(range(len(files))):
        raise TopologyError(f"{path}: layer files are not numbered 0..{len(files) - 1}: {[p.name for _, p in files]}")
    layers = []
    for _, p in files:
        m = sp.load_npz(p).toarray()
        layers.append((m[:-1] if bias_row else m) != 0)
    return layers


def _load_npz(path: Path, epoch: int | None, conv: str) -> Topology:
    with np.load(path) as data:
        keys = list(data.keys())
        per_epoch = [(_EPOCH_KEY.match(k), k) for k in keys]
        if keys and all(m is not None for m, _ in per_epoch):
            epochs = sorted({int(m.group(1)) for m, _ in per_epoch})
            if epoch is None:
                raise TopologyError(f"{path}: per-epoch masks (epochs {epochs}); choose one with epoch=E "
                                    f"(CLI: --epoch E)")
            if epoch not in epochs:
                raise TopologyError(f"{path}: no masks for epoch {epoch}; available epochs {epochs}")
            return [_torch_mask_to_layer(m.group(2), data[k], conv) for m, k in per_epoch if int(m.group(1)) == epoch]
        if not keys:
            raise TopologyError(f"{path}: empty npz")
        return [_torch_mask_to_layer(k, data[k], conv) for k in keys]


def checkpoint_topology(path: str | os.PathLike, conv: str = "channel") -> tuple[list[str], Topology]:
    """(layer names, (fan_in, fan_out) masks) of a ``train.pt``/``prune.pt`` checkpoint (conv masks as in
    :func:`load_topology`)."""
    from ..io import load_torch

    obj = load_torch(path)
    if not isinstance(obj, dict) or "masks" not in obj:
        raise TopologyError(f"{path}: expected a checkpoint with a 'masks' entry (prune.pt / train.pt)")
    return [str(n) for n in obj["masks"]], [_torch_mask_to_layer(n, m, conv) for n, m in obj["masks"].items()]


def _load_torch(path: Path, conv: str) -> Topology:
    return checkpoint_topology(path, conv)[1]


def load_topology(path: str | os.PathLike, epoch: int | None = None, conv: str = "channel",
                  bias_row: bool = True) -> Topology:
    """Boolean masks shaped (fan_in, fan_out), one per layer, from any supported format.

    - a folder of the original study (``weight_l{k}.npz`` scipy sparse, rows = inputs; the last row is the bias
      and is dropped unless ``bias_row=False``);
    - a run folder of this project (``train.pt``, else ``prune.pt``, else ``masks_per_epoch.npz`` with ``epoch``);
    - a ``train.pt``/``prune.pt`` checkpoint (``{"masks": {layer: (out, in) bool}}``), a masks ``.npz``
      (``{layer: (out, in)}``) or a ``masks_per_epoch.npz`` (keys ``epoch{e:03d}/{layer}``; pass ``epoch``).

    Project masks are shaped like the weights, so Linear masks are transposed. Conv masks (out, in, kh, kw) are
    reduced to channel level (c_in, c_out) with "any kept kernel weight" when ``conv="channel"``, or refused with
    ``conv="error"``.
    """
    if conv not in ("channel", "error"):
        raise TopologyError(f"conv={conv!r}: use 'channel' or 'error'")
    path = Path(path)
    if not path.exists():
        raise TopologyError(f"{path}: no such file or folder")
    if path.is_dir():
        if any(_ORIGINAL_FILE.match(p.name) for p in path.iterdir()):
            return _load_original_folder(path, bias_row)
        for name in ("train.pt", "prune.pt"):
            if (path / name).exists() and epoch is None:
                return _load_torch(path / name, conv)
        if (path / "masks_per_epoch.npz").exists():
            return _load_npz(path / "masks_per_epoch.npz", epoch, conv)
        raise TopologyError(f"{path}: no weight_l{{k}}.npz, train.pt, prune.pt or masks_per_epoch.npz inside")
    if path.suffix == ".pt":
        return _load_torch(path, conv)
    if path.suffix == ".npz":
        return _load_npz(path, epoch, conv)
    raise TopologyError(f"{path}: unsupported file type (use a folder, a .pt checkpoint or a .npz of masks)")


def cli_nnstd(dir_a: str | os.PathLike, dir_b: str | os.PathLike, epoch: int | None = None) -> dict:
    """``sparsetopo nnstd DIR_A DIR_B``: {"layers": [...], "mean": ...} for two topologies in any format."""
    res = nnstd(load_topology(dir_a, epoch=epoch), load_topology(dir_b, epoch=epoch))
    return {"layers": [float(v) for v in res.layers], "mean": float(res.mean)}


def reference_networks(root: str | os.PathLike) -> list[Path]:
    """The network folders ``*_w{k}`` of the original study under ``root``, ordered by k."""
    root = Path(root)
    if not root.is_dir():
        raise TopologyError(f"{root}: reference topology folder not found; set nnstd.reference_topologies to the "
                            f"`topo` folder of Sparse_Topology_Distance, or to null to download the pinned copy")
    found = sorted(((int(m.group(2)), p) for p in root.iterdir()
                    if p.is_dir() and (m := _REFERENCE_NAME.match(p.name))), key=lambda t: t[0])
    if not found:
        raise TopologyError(f"{root}: no network folders named like e5_s0_w0")
    return [p for _, p in found]


def reference_epochs(network: str | os.PathLike) -> list[int]:
    """Snapshot epochs (folders ``epoch_{e:03d}``) of one original network folder."""
    return sorted(int(p.name.split("_")[1]) for p in Path(network).iterdir()
                  if p.is_dir() and re.fullmatch(r"epoch_\d+", p.name))
