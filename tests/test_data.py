"""Datasets: the embedded MNIST split, sklearn digits, and the CIFAR / Tiny-ImageNet readers on fake data
written in their real on-disk formats."""

import hashlib
import pickle

import numpy as np
import pytest
import torch

from sparsetopo.data import DatasetError, load_dataset, materialise_embedded, stratified_split


def test_mnist5k_split_is_stratified_seeded_and_recorded(tmp_path):
    path = tmp_path / "mnist5k.npz"
    manifest = materialise_embedded("mnist5k", {"image_size": 28}, path)
    assert manifest["train"] == 4000 and manifest["test"] == 1000
    with np.load(path) as d:
        assert np.bincount(d["y_test"]).tolist() == [100] * 10
        assert np.bincount(d["y_train"]).tolist() == [400] * 10
        assert len(np.intersect1d(d["train_index"], d["test_index"])) == 0
        assert d["x_train"].shape == (4000, 1, 28, 28)
        assert abs(float(d["x_train"].mean())) < 1e-4 and abs(float(d["x_train"].std()) - 1) < 1e-3
        first = d["test_index"].copy()
    materialise_embedded("mnist5k", {"image_size": 28}, path)
    with np.load(path) as d:
        assert np.array_equal(first, d["test_index"])  # fixed split
    materialise_embedded("mnist5k", {"image_size": 28, "split_seed": 1}, path)
    with np.load(path) as d:
        assert not np.array_equal(first, d["test_index"])


def test_mnist5k_are_real_digits(tmp_path):
    # A nearest-centroid classifier on real MNIST digits is far above chance (> 75%); noise would give ~10%.
    path = tmp_path / "m.npz"
    materialise_embedded("mnist5k", {"image_size": 14}, path)
    with np.load(path) as d:
        xtr, ytr, xte, yte = (d[k].reshape(len(d[k]), -1) if k.startswith("x") else d[k]
                              for k in ("x_train", "y_train", "x_test", "y_test"))
    centroids = np.stack([xtr[ytr == c].mean(0) for c in range(10)])
    pred = ((xte[:, None, :] - centroids[None]) ** 2).sum(-1).argmin(1)
    assert (pred == yte).mean() > 0.75


def test_digits_dataset(tmp_path):
    manifest = materialise_embedded("digits", {}, tmp_path / "d.npz")
    assert manifest["train"] + manifest["test"] == 1797
    train, test = load_dataset("digits", "", False, {}, embedded_path=tmp_path / "d.npz")
    x, y = train[0]
    assert x.shape == (1, 8, 8) and 0 <= int(y) < 10


def test_stratified_split_counts():
    labels = np.repeat(np.arange(3), [10, 20, 30])
    train, test = stratified_split(labels, 0.1, 0)
    assert np.bincount(labels[test]).tolist() == [1, 2, 3]
    assert len(train) + len(test) == 60


def test_missing_embedded_artifact_names_the_fix(tmp_path):
    with pytest.raises(DatasetError, match="run the workflow's data step"):
        load_dataset("mnist5k", "", False, {}, embedded_path=tmp_path / "nope.npz")


def _write_fake_cifar(root, name, monkeypatch):
    from torchvision import datasets

    cls = datasets.CIFAR10 if name == "cifar10" else datasets.CIFAR100
    folder = root / cls.base_folder
    folder.mkdir(parents=True)
    label_key = "labels" if name == "cifar10" else "fine_labels"
    rng = np.random.default_rng(0)
    lists = {"train": [], "test": []}
    for split, entries in (("train", cls.train_list), ("test", cls.test_list)):
        for fname, _ in entries:
            blob = {"data": rng.integers(0, 255, (4, 3072), dtype=np.uint8), label_key: list(range(4))}
            (folder / fname).write_bytes(pickle.dumps(blob))
            lists[split].append([fname, hashlib.md5((folder / fname).read_bytes()).hexdigest()])
    train_list, test_list = lists["train"], lists["test"]
    meta = cls.meta
    (folder / meta["filename"]).write_bytes(pickle.dumps({meta["key"]: [f"class{i}" for i in range(100)]}))
    monkeypatch.setattr(cls, "train_list", train_list)
    monkeypatch.setattr(cls, "test_list", test_list)
    monkeypatch.setitem(cls.meta, "md5", hashlib.md5((folder / meta["filename"]).read_bytes()).hexdigest())
    return len(train_list) * 4, len(test_list) * 4


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_cifar_reader_on_fake_data(tmp_path, monkeypatch, name):
    n_train, n_test = _write_fake_cifar(tmp_path, name, monkeypatch)
    train, test = load_dataset(name, tmp_path, download=False)
    assert len(train) == n_train and len(test) == n_test
    x, y = test[0]
    assert x.shape == (3, 32, 32) and y == 0
    assert torch.equal(test[1][0], test[1][0])  # deterministic test transform
    torch.manual_seed(0)
    a = train[1][0]
    torch.manual_seed(1)
    b = train[1][0]
    assert a.shape == (3, 32, 32) and not torch.equal(a, b)  # random crop / flip on train


def test_cifar_missing_with_download_off_is_one_clear_error(tmp_path):
    with pytest.raises(DatasetError, match=r"cifar10: folder 'cifar-10-batches-py' not found under .*download: true"):
        load_dataset("cifar10", tmp_path, download=False)


def _write_fake_tiny(root, classes=3, per_class=2, size=64):
    from PIL import Image

    base = root / "tiny-imagenet-200"
    wnids = [f"n0000{i}" for i in range(classes)]
    (base / "val" / "images").mkdir(parents=True)
    (base / "wnids.txt").write_text("\n".join(wnids) + "\n")
    rng = np.random.default_rng(0)
    lines = []
    for i, w in enumerate(wnids):
        folder = base / "train" / w / "images"
        folder.mkdir(parents=True)
        for j in range(per_class):
            Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(folder / f"{w}_{j}.JPEG")
        name = f"val_{i}.JPEG"
        Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(base / "val" / "images" / name)
        lines.append(f"{name}\t{w}\t0\t0\t{size}\t{size}")
    (base / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    return wnids


def test_tinyimagenet_reader_on_fake_data(tmp_path):
    _write_fake_tiny(tmp_path)
    train, test = load_dataset("tinyimagenet", tmp_path, download=False)
    assert len(train) == 6 and len(test) == 3
    x, y = test[2]
    assert x.shape == (3, 32, 32) and y == 2
    assert torch.equal(test[2][0], x)


def test_tinyimagenet_missing_and_download_errors(tmp_path):
    with pytest.raises(DatasetError, match="tiny-imagenet-200"):
        load_dataset("tinyimagenet", tmp_path, download=False)
    with pytest.raises(DatasetError, match="cannot be downloaded"):
        load_dataset("tinyimagenet", tmp_path, download=True)


# ------------------------------------------------------------------------------------------------ loaders

from sparsetopo.data import SeededSampler, make_loader  # noqa: E402


def _epochs(loader, count):
    return [[(x.clone(), y.clone()) for x, y in loader] for _ in range(count)]


def _same(a, b):
    return len(a) == len(b) and all(torch.equal(x, u) and torch.equal(y, v) for (x, y), (u, v) in zip(a, b))


def test_batches_are_identical_with_and_without_workers(tmp_path, monkeypatch):
    _write_fake_cifar(tmp_path, "cifar10", monkeypatch)  # 20 training images, RandomCrop + flip
    train, _ = load_dataset("cifar10", tmp_path, download=False)
    single = _epochs(make_loader(train, 6, shuffle=True, seed=3), 2)
    workers = _epochs(make_loader(train, 6, shuffle=True, seed=3, workers=2), 2)
    assert all(_same(a, b) for a, b in zip(single, workers))
    assert [len(e) for e in single] == [4, 4] and single[0][-1][0].shape == (2, 3, 32, 32)
    assert not _same(single[0], single[1])  # a new order and new augmentations every epoch
    other = _epochs(make_loader(train, 6, shuffle=True, seed=4), 1)
    assert not _same(single[0], other[0])
    labels = torch.cat([y for _, y in single[0]])
    assert sorted(labels.tolist()) == sorted([0, 1, 2, 3] * 5)  # each image once per epoch


def test_loading_leaves_the_global_rng_alone_and_resumes_by_epoch(tmp_path, monkeypatch):
    _write_fake_cifar(tmp_path, "cifar10", monkeypatch)
    train, _ = load_dataset("cifar10", tmp_path, download=False)
    loader = make_loader(train, 8, shuffle=True, seed=0)
    torch.manual_seed(11)
    state = torch.get_rng_state()
    epochs = _epochs(loader, 3)
    assert torch.equal(torch.get_rng_state(), state)  # augmentation draws from per-sample seeds only
    resumed = make_loader(train, 8, shuffle=True, seed=0)
    resumed.sampler.load_state_dict(loader.sampler.state_dict() | {"epoch": 2})
    assert _same(_epochs(resumed, 1)[0], epochs[2])
    sampler = SeededSampler(5, seed=1)
    first, second = list(sampler), list(sampler)
    assert sorted(i for i, _ in first) == list(range(5)) and first != second and sampler.state_dict() == {"epoch": 2}


def test_unshuffled_loader_keeps_order(tmp_path, monkeypatch):
    _write_fake_cifar(tmp_path, "cifar10", monkeypatch)
    _, test = load_dataset("cifar10", tmp_path, download=False)
    labels = torch.cat([y for _, y in make_loader(test, 3, shuffle=False, workers=1)])
    assert labels.tolist() == [0, 1, 2, 3]
