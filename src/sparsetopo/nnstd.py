"""Neural Network Sparse Topology Distance (NNSTD; Liu et al., ECML-PKDD 2020), vectorised.

Definition (see ``specs/related-seeds.md`` A.1):

- a topology is a list of boolean masks, one per layer, shaped ``(fan_in, fan_out)`` (rows = input neurons);
- output neuron ``j`` of a layer is the set of its input neurons (column ``j``);
- neuron distance = Jaccard distance of the two sets (``0`` if both are empty; ``1`` if disjoint);
- layer distance = mean matched cost under an optimal one-to-one assignment (Hungarian,
  :func:`scipy.optimize.linear_sum_assignment`);
- before layer ``k+1`` is compared, the rows (inputs) of network B's mask are permuted with the matching of layer
  ``k``, so that B's hidden neurons carry the labels of the A neurons they were matched to (greedy, sequential,
  fan-in only, exactly as the reference code);
- network distance = mean of the layer distances.

The cost matrix is computed in one shot: ``I = Mᵀ M'`` (intersection counts, sparse or dense float32 matmul),
``U = deg[:, None] + deg'[None, :] − I`` and ``C = where(U > 0, 1 − I/U, 0)``.

Ties. When several assignments have the same optimal cost (e.g. hidden neurons with identical or empty fan-in
sets), the solver's deterministic choice is kept, as in the reference code. The matching propagated to the next
layer is then arbitrary among the tied neurons, so NNSTD is *not* exactly zero between a network and a
relabelled copy of itself when such ties exist (quirk A.6-7). With distinct fan-in sets the matching is unique
and the distance is exactly 0. No fan-out tie-breaking is applied (a documented option of the spec, not the
original behaviour).

Other behaviour of the original kept on purpose: the output layer is matched like any other layer (class neurons
treated as anonymous), and the pairwise matrix is filled from ``i < j`` and mirrored (for layers ≥ 2 the
distance is only approximately symmetric). Layers whose fan-in does not equal the previous layer's fan-out
(e.g. a flatten between conv and linear layers) are compared without relabelling.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linear_sum_assignment

Topology = list[np.ndarray]

_EPOCH_KEY = re.compile(r"^epoch(\d+)/(.+)$")
_ORIGINAL_FILE = re.compile(r"^weight_l(\d+)\.npz$")


class TopologyError(ValueError):
    """A topology file or folder cannot be read as NNSTD input; the message says why and how to fix it."""


@dataclass
class NNSTDResult:
    """Per-layer distances, their mean, and per layer the matching: A neuron ``j`` ↔ B neuron ``matchings[k][j]``
    (B's own labels)."""

    layers: list[float]
    mean: float
    matchings: list[np.ndarray] = field(default_factory=list, repr=False)


@dataclass
class NullResult:
    """NNSTD between independent random masks of equal per-layer density: ``values`` is (draws, layers)."""

    layers: list[float]
    mean: float
    std: float
    values: np.ndarray = field(repr=False)


# --------------------------------------------------------------------------------------------------- loading

def _as_topology(layers: Sequence[np.ndarray]) -> Topology:
    out = []
    for k, m in enumerate(layers):
        m = np.asarray(m)
        if m.ndim != 2:
            raise TopologyError(f"layer {k}: expected a 2-D (fan_in, fan_out) mask, got shape {m.shape}")
        out.append(m != 0)
    return out


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


def _load_torch(path: Path, conv: str) -> Topology:
    from .io import load_torch

    obj = load_torch(path)
    if not isinstance(obj, dict) or "masks" not in obj:
        raise TopologyError(f"{path}: expected a checkpoint with a 'masks' entry (prune.pt / train.pt)")
    return [_torch_mask_to_layer(n, m, conv) for n, m in obj["masks"].items()]


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


# ------------------------------------------------------------------------------------------------ distances

def cost_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Jaccard distances between the fan-in sets of A's and B's output neurons, shape (n_a, n_b).

    ``C[j, j'] = 1 − |S_j ∩ S'_j'| / |S_j ∪ S'_j'|``, and 0 when both sets are empty.
    """
    a = np.asarray(a) != 0
    b = np.asarray(b) != 0
    if a.shape[0] != b.shape[0]:
        raise TopologyError(f"fan-in mismatch: {a.shape} vs {b.shape}; both networks need the same architecture")
    deg_a = a.sum(axis=0).astype(np.float64)
    deg_b = b.sum(axis=0).astype(np.float64)
    if a.size and (a.mean() < 0.1 and b.mean() < 0.1):
        inter = (sp.csc_matrix(a, dtype=np.float32).T @ sp.csc_matrix(b, dtype=np.float32)).toarray()
    else:
        inter = a.T.astype(np.float32) @ b.astype(np.float32)
    inter = inter.astype(np.float64)
    union = deg_a[:, None] + deg_b[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, 1.0 - inter / np.where(union > 0, union, 1.0), 0.0)


def layer_distance(a: np.ndarray, b: np.ndarray) -> tuple[float, np.ndarray]:
    """(mean matched Jaccard distance, matching) for one layer; A neuron j ↔ B neuron ``matching[j]``."""
    cost = cost_matrix(a, b)
    if cost.shape[0] != cost.shape[1]:
        raise TopologyError(f"layer widths differ ({cost.shape[0]} vs {cost.shape[1]}); NNSTD needs equal widths")
    if cost.shape[0] == 0:
        return 0.0, np.zeros(0, dtype=np.int64)
    rows, cols = linear_sum_assignment(cost)
    matching = np.empty(cost.shape[0], dtype=np.int64)
    matching[rows] = cols
    return float(cost[rows, cols].mean()), matching


def nnstd(layers_a: Sequence[np.ndarray], layers_b: Sequence[np.ndarray]) -> NNSTDResult:
    """NNSTD between two topologies (lists of (fan_in, fan_out) masks of the same architecture)."""
    a, b = _as_topology(layers_a), _as_topology(layers_b)
    if len(a) != len(b):
        raise TopologyError(f"networks have {len(a)} and {len(b)} layers; NNSTD needs the same architecture")
    distances, matchings = [], []
    previous: np.ndarray | None = None
    for k, (ma, mb) in enumerate(zip(a, b)):
        if ma.shape != mb.shape:
            raise TopologyError(f"layer {k}: shapes {ma.shape} and {mb.shape} differ; same architecture needed")
        if previous is not None and previous.size == mb.shape[0]:
            mb = mb[previous]  # row j of B now holds B's input neuron matched to A's neuron j
        d, matching = layer_distance(ma, mb)
        distances.append(d)
        matchings.append(matching)
        previous = matching
    return NNSTDResult(distances, float(np.mean(distances)) if distances else 0.0, matchings)


def nnstd_pairwise(topologies: Sequence[Sequence[np.ndarray]]) -> np.ndarray:
    """Per-layer pairwise NNSTD, shape (n, n, layers): computed for i < j (A = i, B = j) and mirrored."""
    tops = [_as_topology(t) for t in topologies]
    n = len(tops)
    n_layers = len(tops[0]) if tops else 0
    out = np.zeros((n, n, n_layers))
    for i in range(n):
        for j in range(i + 1, n):
            res = nnstd(tops[i], tops[j])
            out[i, j] = out[j, i] = res.layers
    return out


def nnstd_matrix(topologies: Sequence[Sequence[np.ndarray]], layer: int | None = None) -> np.ndarray:
    """Pairwise NNSTD (n, n) of one ``layer`` or, when ``layer`` is None, of the network mean."""
    pair = nnstd_pairwise(topologies)
    return pair.mean(axis=2) if layer is None else pair[:, :, layer]


def random_masks(shapes: Sequence[tuple[int, int]], densities: Sequence[float],
                 rng: np.random.Generator) -> Topology:
    """Uniformly random masks with exactly round(density * size) kept entries per layer."""
    out = []
    for shape, density in zip(shapes, densities):
        size = int(shape[0]) * int(shape[1])
        flat = np.zeros(size, dtype=bool)
        flat[rng.choice(size, int(round(float(density) * size)), replace=False)] = True
        out.append(flat.reshape(int(shape[0]), int(shape[1])))
    return out


def random_null(shapes: Sequence[tuple[int, int]], densities: Sequence[float], seed: int = 0,
                draws: int = 3) -> NullResult:
    """Baseline: NNSTD between pairs of independent random topologies with the given per-layer densities.

    Unrelated topologies do not score 1 (the optimal matching finds partial overlaps); this is the value that
    "very different" topologies should be compared with.
    """
    if len(shapes) != len(densities):
        raise ValueError(f"{len(shapes)} shapes but {len(densities)} densities")
    rng = np.random.default_rng(seed)
    values = np.array([nnstd(random_masks(shapes, densities, rng), random_masks(shapes, densities, rng)).layers
                       for _ in range(int(draws))])
    means = values.mean(axis=1)
    return NullResult(values.mean(axis=0).tolist(), float(means.mean()),
                      float(means.std(ddof=1)) if len(means) > 1 else 0.0, values)


def topology_summary(topology: Sequence[np.ndarray]) -> tuple[list[tuple[int, int]], list[float]]:
    """(shapes, densities) of a topology, the inputs of :func:`random_null`."""
    tops = _as_topology(topology)
    return [tuple(int(s) for s in m.shape) for m in tops], [float(m.mean()) for m in tops]


def cli_nnstd(dir_a: str | os.PathLike, dir_b: str | os.PathLike, epoch: int | None = None) -> dict:
    """``sparsetopo nnstd DIR_A DIR_B``: {"layers": [...], "mean": ...} for two topologies in any format."""
    res = nnstd(load_topology(dir_a, epoch=epoch), load_topology(dir_b, epoch=epoch))
    return {"layers": [float(v) for v in res.layers], "mean": float(res.mean)}


# ----------------------------------------------------------------------------------- experiments and figures

_REFERENCE_NAME = re.compile(r"^(.*)_w(\d+)$")


def reference_networks(root: str | os.PathLike) -> list[Path]:
    """The network folders ``*_w{k}`` of the original study under ``root``, ordered by k."""
    root = Path(root)
    if not root.is_dir():
        raise TopologyError(f"{root}: reference topology folder not found; set nnstd.reference_topologies to the "
                            f"`topo` folder of Sparse_Topology_Distance (or null to skip)")
    found = sorted(((int(m.group(2)), p) for p in root.iterdir()
                    if p.is_dir() and (m := _REFERENCE_NAME.match(p.name))), key=lambda t: t[0])
    if not found:
        raise TopologyError(f"{root}: no network folders named like e5_s0_w0")
    return [p for _, p in found]


def reference_epochs(network: str | os.PathLike) -> list[int]:
    """Snapshot epochs (folders ``epoch_{e:03d}``) of one original network folder."""
    return sorted(int(p.name.split("_")[1]) for p in Path(network).iterdir()
                  if p.is_dir() and re.fullmatch(r"epoch_\d+", p.name))


def pairs_frame(pairwise: np.ndarray, names: Sequence[str], epoch: int, null: NullResult):
    """Long table of one epoch: rows (epoch, i, j, network_i, network_j, layer, nnstd, null) for i < j, with
    ``layer`` the layer index as text or "mean" (network distance), and the random-null baseline beside it."""
    import polars as pl

    n, _, n_layers = pairwise.shape
    iu, ju = np.triu_indices(n, k=1)
    parts = []
    for k, label in [(k, str(k)) for k in range(n_layers)] + [(None, "mean")]:
        values = pairwise[iu, ju, k] if k is not None else pairwise[iu, ju].mean(axis=1)
        base = null.layers[k] if k is not None else null.mean
        parts.append(pl.DataFrame({
            "epoch": np.full(len(iu), int(epoch), dtype=np.int64), "i": iu.astype(np.int64),
            "j": ju.astype(np.int64), "network_i": [names[a] for a in iu], "network_j": [names[b] for b in ju],
            "layer": [label] * len(iu), "nnstd": values.astype(np.float64),
            "null": np.full(len(iu), float(base)),
        }))
    return pl.concat(parts)


def matrix_from_pairs(frame, epoch: int, layer: str) -> tuple[np.ndarray, list[str]]:
    """Symmetric (n, n) matrix and network names of one (epoch, layer) from a pairs table."""
    import polars as pl

    sub = frame.filter((pl.col("epoch") == epoch) & (pl.col("layer") == layer))
    names_by_index = dict(zip(sub["i"].to_list(), sub["network_i"].to_list()))
    names_by_index.update(zip(sub["j"].to_list(), sub["network_j"].to_list()))
    n = max(names_by_index) + 1 if names_by_index else 0
    out = np.zeros((n, n))
    out[sub["i"].to_numpy(), sub["j"].to_numpy()] = sub["nnstd"].to_numpy()
    out[sub["j"].to_numpy(), sub["i"].to_numpy()] = sub["nnstd"].to_numpy()
    return out, [names_by_index[k] for k in range(n)]


def plot_nnstd_heatmaps(frame, paths: Sequence[str | os.PathLike], layers: Sequence[str] = ("0", "mean"),
                        title: str = "NNSTD") -> None:
    """Grid of NNSTD heatmaps (rows = layers, columns = epochs), colour scale 0..1, each panel annotated
    with the random-null baseline; written to every path in ``paths`` (PNG, PDF)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import polars as pl
    import seaborn as sns

    from .io import atomic_path

    epochs = sorted(frame["epoch"].unique().to_list())
    fig, axes = plt.subplots(len(layers), len(epochs), figsize=(2.6 * len(epochs) + 1, 2.6 * len(layers) + 0.6),
                             squeeze=False, constrained_layout=True)
    for r, layer in enumerate(layers):
        for c, epoch in enumerate(epochs):
            ax = axes[r][c]
            matrix, names = matrix_from_pairs(frame, epoch, layer)
            null = frame.filter((pl.col("epoch") == epoch) & (pl.col("layer") == layer))["null"]
            labels = [n.rsplit("_", 1)[-1] for n in names]
            sns.heatmap(matrix, vmin=0, vmax=1, cmap="viridis", square=True, ax=ax, cbar=c == len(epochs) - 1,
                        xticklabels=labels, yticklabels=labels)
            ax.tick_params(labelsize=6)
            what = "network mean" if layer == "mean" else f"layer {layer}"
            ax.set_title(f"epoch {epoch}, {what}\nnull {float(null[0]):.3f}" if len(null) else
                         f"epoch {epoch}, {what}", fontsize=8)
    fig.suptitle(f"{title} (null = independent random masks of equal density)", fontsize=10)
    for path in paths:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=150, format=Path(path).suffix.lstrip("."))
    plt.close(fig)


def reference_pairs(root: str | os.PathLike, epochs: Sequence[int] | None = None, null_draws: int = 3,
                    seed: int = 0, log=None):
    """Pairs table of the original study's topologies (all networks, all or the given epochs)."""
    import polars as pl

    networks = reference_networks(root)
    names = [p.name for p in networks]
    available = reference_epochs(networks[0])
    chosen = list(epochs) if epochs else available
    missing = sorted(set(chosen) - set(available))
    if missing:
        raise TopologyError(f"{root}: epochs {missing} not found; available {available}")
    frames = []
    for epoch in chosen:
        tops = [load_topology(p / f"epoch_{epoch:03d}") for p in networks]
        shapes, dens = topology_summary(tops[0])
        null = random_null(shapes, dens, seed=seed + epoch, draws=null_draws)
        frames.append(pairs_frame(nnstd_pairwise(tops), names, epoch, null))
        if log is not None:
            log.info("epoch %d: %d networks, null mean %.4f", epoch, len(tops), null.mean)
    return pl.concat(frames)


def er_topology(shapes: Sequence[tuple[int, int]], epsilon: float, rng: np.random.Generator,
                dense: Sequence[bool] | None = None) -> Topology:
    """Erdős–Rényi masks (fan_in, fan_out) with exactly round(p·n_in·n_out) edges, p = ε(n_in+n_out)/(n_in·n_out)
    (capped at 1); layers flagged in ``dense`` are all ones."""
    dense = list(dense) if dense is not None else [False] * len(shapes)
    densities = [1.0 if d else min(1.0, epsilon * (a + b) / (a * b)) for (a, b), d in zip(shapes, dense)]
    return random_masks(shapes, densities, rng)


def perturb_topology(topology: Sequence[np.ndarray], fraction: float, rng: np.random.Generator) -> Topology:
    """Move round(fraction · edges) edges of every non-full layer to uniformly random empty positions
    (edge count per layer kept)."""
    out = []
    for m in _as_topology(topology):
        flat = m.reshape(-1).copy()
        on, off = np.flatnonzero(flat), np.flatnonzero(~flat)
        moved = min(int(round(fraction * on.size)), off.size)
        if moved:
            flat[rng.choice(on, moved, replace=False)] = False
            flat[rng.choice(off, moved, replace=False)] = True
        out.append(flat.reshape(m.shape))
    return out


CHAIN_DEFAULTS: dict = {"dataset": "mnist5k", "image_size": 14, "hidden": [100, 100, 100], "epsilon": 5.0,
                        "zeta": 0.3, "epochs": 15, "lr": 0.02, "momentum": 0.9, "weight_decay": 2e-4,
                        "batch_size": 64, "networks": 10, "perturb_fraction": 0.01, "seed": 0}


def chain_topologies(shapes: Sequence[tuple[int, int]], options: dict) -> list[Topology]:
    """w0 = ER masks of the hidden layers (output layer dense); w_k = w_{k-1} with ``perturb_fraction`` of its
    edges moved to random empty positions."""
    opts = {**CHAIN_DEFAULTS, **options}
    rng = np.random.default_rng(int(opts["seed"]))
    dense = [False] * (len(shapes) - 1) + [True]
    chain = [er_topology(shapes, float(opts["epsilon"]), rng, dense)]
    for _ in range(int(opts["networks"]) - 1):
        chain.append(perturb_topology(chain[-1], float(opts["perturb_fraction"]), rng))
    return chain


def mlp_shapes(input_shape: Sequence[int], hidden: Sequence[int], num_classes: int = 10) -> list[tuple[int, int]]:
    """(fan_in, fan_out) of every Linear layer of the project's mlp."""
    widths = [int(np.prod(input_shape))] + [int(h) for h in hidden] + [int(num_classes)]
    return list(zip(widths[:-1], widths[1:]))


def train_chain_network(topology: Sequence[np.ndarray], dataset_path: str | os.PathLike, options: dict,
                        log=None):
    """Train the project's mlp with SET from ``topology`` (sparse hidden layers, dense output layer is not
    evolved); returns (per-epoch masks {f"epoch{e:03d}/{layer}": (out, in) bool}, TrainResult)."""
    import torch

    from .data import dataset_info, load_dataset, make_loader
    from .models import build_model, prunable_layers
    from .pruning import PRUNERS
    from .training import TrainSettings, train

    opts = {**CHAIN_DEFAULTS, **options}
    seed = int(opts["seed"])
    data_opts = {"image_size": int(opts["image_size"])}
    info = dataset_info(opts["dataset"], data_opts)
    train_set, test_set = load_dataset(opts["dataset"], ".", False, data_opts, embedded_path=dataset_path)
    torch.manual_seed(seed)
    model = build_model("mlp", info.input_shape, info.num_classes, hidden=tuple(opts["hidden"]))
    layers = prunable_layers(model)
    topo = _as_topology(topology)
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
    hook = PRUNERS.get("set").dynamic({"zeta": float(opts["zeta"])}, seed)
    result = train(model, masks, make_loader(train_set, settings.batch_size, True, seed),
                   make_loader(test_set, 512, False), settings, "cpu", hook=hook)
    history = {}
    for epoch, snapshot in enumerate(result.mask_history):
        for name, module in layers:
            mask = snapshot.get(name)
            history[f"epoch{epoch:03d}/{name}"] = (mask.numpy() if mask is not None
                                                   else np.ones(tuple(module.weight.shape), dtype=bool))
    if log is not None:
        log.info("trained %d epochs, accuracy %.4f, %.1f s", settings.epochs, result.accuracy, result.seconds)
    return history, result


def chain_pairs(histories: Sequence[str | os.PathLike], names: Sequence[str], epochs: Sequence[int],
                null_draws: int = 3, seed: int = 0, log=None):
    """Pairs table of the project's own chain: one ``masks_per_epoch.npz`` per network."""
    import polars as pl

    frames = []
    for epoch in epochs:
        tops = [load_topology(p, epoch=int(epoch)) for p in histories]
        shapes, dens = topology_summary(tops[0])
        null = random_null(shapes, dens, seed=seed + int(epoch), draws=null_draws)
        frames.append(pairs_frame(nnstd_pairwise(tops), list(names), int(epoch), null))
        if log is not None:
            log.info("epoch %d: null mean %.4f", epoch, null.mean)
    return pl.concat(frames)
