"""Resumable training: a run interrupted after any epoch (even by SIGKILL) and rerun ends bit-identical to an
uninterrupted run; checkpoints of another run, config or code, or unreadable ones, are ignored with a warning."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset

from sparsetopo.data import make_loader
from sparsetopo.models import build_model
from sparsetopo.stages.data import materialise_data
from sparsetopo.stages.run import Run
from sparsetopo.stages.train import prune_run, train_run
from sparsetopo.pruning import PRUNERS, PruneContext, run_pruner
from sparsetopo.training import TrainSettings, train
from sparsetopo.training_state import Checkpoint

SHAPE, CLASSES = (1, 4, 4), 3


class Noisy(Dataset):
    """48 fixed samples with a random augmentation (noise from torch's global generator, as torchvision)."""

    def __init__(self, n: int = 48) -> None:
        g = torch.Generator().manual_seed(0)
        self.x, self.y = torch.randn(n, *SHAPE, generator=g), torch.randint(0, CLASSES, (n,), generator=g)

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i):
        return self.x[i] + 0.1 * torch.randn(SHAPE), self.y[i]


def random_penalty(model):
    """A loss term drawing from the torch, numpy and python generators, so restoring them matters."""
    scale = float(torch.rand(())) + float(np.random.rand()) + random.random()
    return 1e-3 * scale * sum(p.pow(2).sum() for p in model.parameters())


class Interrupted(Exception):
    pass


OPTIONS = {"rigl": {"delta_t": 3}, "snfs": {"delta_t": 5}, "dsr": {"delta_t": 3}, "itop": {"delta_t": 3},
           "set": {"skip_last_epoch": False}}


def session(pruner: str, ckpt: Path | None, fingerprint: str = "run-a", stop_at: int | None = None,
            model_name: str = "mlp"):
    """Train 4 epochs from the seeded start; ``stop_at``: raise after that epoch's curve, before its checkpoint."""
    torch.manual_seed(0)
    model = build_model(model_name, SHAPE, CLASSES, hidden=(12, 8)) if model_name == "mlp" else \
        build_model(model_name, SHAPE, CLASSES)
    p = PRUNERS.get(pruner)
    options = {**p.defaults, **OPTIONS.get(pruner, {})}
    masks = run_pruner(pruner, PruneContext(model, 0.7, 0, SHAPE, CLASSES, dict(options)))
    hook = p.dynamic(options, 0) if p.dynamic else None
    data = Noisy()
    torch.manual_seed(5), np.random.seed(5), random.seed(5)

    def stop(epoch, _model):
        if epoch == stop_at:
            raise Interrupted

    result = train(model, masks, make_loader(data, 12, True, seed=1), make_loader(data, 48, False),
                   TrainSettings(epochs=4, lr=0.05, weight_decay=1e-4, milestones=(0.5,), record_masks=True), "cpu",
                   hook=hook,
                   extra_loss=random_penalty, on_epoch_end=stop,
                   checkpoint=Checkpoint(ckpt, fingerprint) if ckpt else None)
    return model, result


def assert_same(a, b):
    (model_a, res_a), (model_b, res_b) = a, b
    sa, sb = model_a.state_dict(), model_b.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    assert all(torch.equal(res_a.masks[n], res_b.masks[n]) for n in res_a.masks)
    strip = [{k: v for k, v in e.items() if k != "seconds"} for e in res_a.epochs]
    assert strip == [{k: v for k, v in e.items() if k != "seconds"} for e in res_b.epochs]
    assert len(res_a.mask_history) == len(res_b.mask_history) == 5
    assert all(torch.equal(x[n], y[n]) for x, y in zip(res_a.mask_history, res_b.mask_history) for n in x)


@pytest.mark.parametrize("pruner", ["erk", "set", "rigl", "snfs", "dsr", "itop"])
def test_interrupted_training_resumes_bit_identically(pruner, tmp_path):
    reference = session(pruner, None)
    ckpt = tmp_path / "train.ckpt"
    with pytest.raises(Interrupted):
        session(pruner, ckpt, stop_at=3)  # epochs 1 and 2 checkpointed
    assert torch.load(ckpt, weights_only=True)["epoch"] == 2
    resumed = session(pruner, ckpt)
    assert resumed[1].resumed_from == 2
    assert_same(reference, resumed)
    if pruner == "itop":
        assert [e["exploration_rate"] for e in resumed[1].epochs] == [e["exploration_rate"] for e in
                                                                      reference[1].epochs]


def test_foreign_or_corrupt_checkpoints_are_ignored_with_a_warning(tmp_path, caplog):
    reference = session("snfs", None)
    ckpt = tmp_path / "train.ckpt"
    with pytest.raises(Interrupted):
        session("snfs", ckpt, fingerprint="other-config", stop_at=2)
    with caplog.at_level("WARNING", logger="sparsetopo.training"):
        fresh = session("snfs", ckpt)
    assert "belongs to another run, config or code version" in caplog.text and fresh[1].resumed_from == 0
    assert_same(reference, fresh)
    ckpt.write_bytes(b"half a checkpoint")
    caplog.clear()
    with caplog.at_level("WARNING", logger="sparsetopo.training"):
        fresh = session("snfs", ckpt)
    assert "not a readable checkpoint" in caplog.text and fresh[1].resumed_from == 0
    assert_same(reference, fresh)
    torch.save({"format": 1, "fingerprint": "run-a", "epoch": 1, "model": {}}, ckpt)  # right id, wrong content
    caplog.clear()
    with caplog.at_level("WARNING", logger="sparsetopo.training"):
        fresh = session("snfs", ckpt)
    assert "its weights do not fit the model" in caplog.text and fresh[1].resumed_from == 0


# ------------------------------------------------------------------------------------ a real kill (SIGKILL)

CFG = {"dataset_options": {}, "model_options": {"mlp": {"hidden": [32, 16], "batch_norm": True}},
       "pruner_options": {"snfs": {"delta_t": 7}}, "training": {"epochs": 8, "batch_size": 64, "threads": 1}}
RUN = Run("digits", "mlp", "snfs", 0.8, 0)

CHILD = """
import json, sys
from sparsetopo.stages.run import Run
from sparsetopo.stages.train import prune_run, train_run
cfg, run, out = json.loads(sys.argv[1]), Run(*json.loads(sys.argv[2])), sys.argv[3]
prune_run(cfg, run, sys.argv[4], out + "/prune.pt", out + "/prune.json")
train_run(cfg, run, out + "/prune.pt", sys.argv[4], out + "/train.pt", out + "/train.json", out + "/masks.npz")
"""


def run_stage(folder: Path, data: Path) -> dict:
    prune_run(CFG, RUN, str(data), str(folder / "prune.pt"), str(folder / "prune.json"))
    return train_run(CFG, RUN, str(folder / "prune.pt"), str(data), str(folder / "train.pt"),
                     str(folder / "train.json"), str(folder / "masks.npz"))


def without_seconds(path: Path) -> dict:
    summary = json.loads(path.read_text())
    summary.pop("seconds")
    summary["provenance"].pop("seconds")
    for epoch in summary["epochs"]:
        epoch.pop("seconds")
    return summary


def test_killed_training_job_resumes_to_identical_bytes(tmp_path, caplog):
    data = tmp_path / "digits.npz"
    materialise_data(CFG, "digits", str(data), str(tmp_path / "digits.json"))
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    reference.mkdir(), killed.mkdir()
    run_stage(reference, data)
    assert not (reference / "train.ckpt").exists()  # removed once the outputs are written

    child = subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(CFG), json.dumps(list(RUN.keys().values())),
                              str(killed), str(data)], env={**os.environ, "PYTHONHASHSEED": "0"})
    ckpt, deadline = killed / "train.ckpt", time.monotonic() + 120
    while not ckpt.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL and ckpt.exists()
    epoch = torch.load(ckpt, weights_only=True)["epoch"]
    assert 1 <= epoch < CFG["training"]["epochs"] and not (killed / "train.pt").exists()

    with caplog.at_level("INFO", logger="sparsetopo.training"):
        run_stage(killed, data)  # the rerun of the job: prune again (same bytes), then continue training
    assert f"after epoch {epoch}" in caplog.text and not ckpt.exists()
    for name in ("prune.pt", "train.pt", "masks.npz"):
        assert (killed / name).read_bytes() == (reference / name).read_bytes(), name
    assert without_seconds(killed / "train.json") == without_seconds(reference / "train.json")
