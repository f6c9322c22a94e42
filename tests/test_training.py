"""Training: masked weights stay exactly zero after real SGD steps (momentum + weight decay); divergence."""

import math

import pytest
import torch
from torch.utils.data import TensorDataset

from sparsetopo.data import make_loader
from sparsetopo.models import build_model, prunable_layers
from sparsetopo.pruning import PruneContext, run_pruner
from sparsetopo.training import DivergedError, milestone_epochs, train
from sparsetopo.training_settings import TrainSettings, training_for


def _data(n=96, shape=(1, 8, 8), seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, *shape, generator=g)
    y = (x.flatten(1).sum(1) > 0).long()  # a learnable rule
    return TensorDataset(x, y)


def _setup(model="resnet20", sparsity=0.8, seed=0):
    torch.manual_seed(seed)
    net = build_model(model, (1, 8, 8), 2)
    masks = run_pruner("uniform", PruneContext(net, sparsity, seed, (1, 8, 8), 2))
    return net, masks


def test_masked_weights_stay_exactly_zero_with_momentum_and_weight_decay():
    net, masks = _setup()
    before = {n: m.weight.detach().clone() for n, m in prunable_layers(net)}
    data = _data()
    result = train(net, masks, make_loader(data, 16, True, 0), make_loader(data, 96, False),
                   TrainSettings(epochs=3, lr=0.1, momentum=0.9, weight_decay=5e-4))
    changed = 0
    for name, module in prunable_layers(net):
        w = module.weight.detach()
        assert torch.count_nonzero(w[~masks[name]]) == 0, name
        changed += int((w[masks[name]] != before[name][masks[name]]).sum())
    assert changed > 0.9 * sum(int(m.sum()) for m in masks.values())  # kept weights did train
    assert len(result.epochs) == 3 and 0 <= result.accuracy <= 1
    assert all(math.isfinite(e["train_loss"]) for e in result.epochs)


def test_training_is_deterministic():
    accs = []
    for _ in range(2):
        net, masks = _setup(seed=4)
        data = _data(seed=4)
        torch.manual_seed(4)
        r = train(net, masks, make_loader(data, 16, True, 4), make_loader(data, 96, False),
                  TrainSettings(epochs=1, weight_decay=1e-4))
        accs.append((r.accuracy, r.epochs[0]["train_loss"], [p.detach().clone() for p in net.parameters()]))
    assert accs[0][:2] == accs[1][:2]
    assert all(torch.equal(a, b) for a, b in zip(accs[0][2], accs[1][2]))


def test_non_finite_loss_raises_a_clear_error():
    net, masks = _setup("mlp")
    data = _data()
    with pytest.raises(DivergedError, match="non-finite training loss"):
        train(net, masks, make_loader(data, 16, True, 0), make_loader(data, 96, False),
              TrainSettings(epochs=2, lr=1e30, weight_decay=1e-4))


def test_milestones_at_half_and_three_quarters():
    assert milestone_epochs(160, (0.5, 0.75)) == [80, 120]
    assert milestone_epochs(4, (0.5, 0.75)) == [2, 3]


def test_weight_decay_per_model():
    def settings(section, model):
        return TrainSettings.from_section(training_for(section, "digits", model))

    assert settings({"epochs": 1}, "wrn28_2").weight_decay == 5e-4
    assert settings({"epochs": 1}, "resnet20").weight_decay == 1e-4
    assert settings({"epochs": 1, "weight_decay": 0.0}, "wrn28_2").weight_decay == 0.0


def test_train_settings_defaults_are_the_schemas():
    """One home for each default: a field left out of TrainSettings, and a key left out of the training section,
    take the schema's default (weight decay has none: null means per model, so it must be given)."""
    import dataclasses

    from sparsetopo.schema import load_schema

    schema = {k: v.get("default") for k, v in load_schema()["properties"]["training"]["properties"].items()}
    settings = TrainSettings(weight_decay=0.0)
    for name in ("epochs", "lr", "momentum", "gamma", "batch_size"):
        assert getattr(settings, name) == schema[name], name
    assert settings.milestones == tuple(schema["milestones"]) and schema["weight_decay"] is None
    assert TrainSettings.from_section(training_for(None, "digits", "mlp")) == dataclasses.replace(
        settings, weight_decay=1e-4)
    with pytest.raises(TypeError, match="weight_decay"):
        TrainSettings(epochs=1)
    with pytest.raises(KeyError, match="training_for"):
        TrainSettings.from_section({"epochs": 1, "weight_decay": 1e-4})


def test_mask_history_records_every_epoch():
    net, masks = _setup()
    data = _data()
    r = train(net, masks, make_loader(data, 32, True, 0), make_loader(data, 96, False),
              TrainSettings(epochs=2, weight_decay=1e-4, record_masks=True))
    assert len(r.mask_history) == 3 and all(torch.equal(r.mask_history[0][n], masks[n]) for n in masks)


def test_sgd_matches_torch_optim_sgd():
    from sparsetopo.sgd import SGD

    torch.manual_seed(0)
    a = torch.nn.Linear(5, 3)
    b = torch.nn.Linear(5, 3)
    b.load_state_dict(a.state_dict())
    ours = SGD(a.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    ref = torch.optim.SGD(b.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4, foreach=False)
    for step in range(4):
        x = torch.randn(8, 5, generator=torch.Generator().manual_seed(step))
        for net, opt in ((a, ours), (b, ref)):
            opt.zero_grad()
            net(x).pow(2).mean().backward()
            opt.step()
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.allclose(p, q, rtol=0, atol=1e-7)
    assert torch.allclose(ours.state[a.weight]["momentum_buffer"], ref.state[b.weight]["momentum_buffer"], atol=1e-7)


# ------------------------------------------------------------------------ per-dataset schedules, optimiser

from pathlib import Path  # noqa: E402

import yaml  # noqa: E402

from sparsetopo.config import ConfigError, validate_config  # noqa: E402
from sparsetopo.schema import section_defaults  # noqa: E402
from sparsetopo.sgd import SGD, make_optimizer  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TRAINING_DEFAULTS = {k: v for k, v in section_defaults("training").items() if k != "per_dataset"}
PAPER_TINY = {"epochs": 160, "milestones": [0.5, 0.75], "weight_decay": None, "threads": 4,
              "per_dataset": {"tinyimagenet": {"epochs": 100, "milestones": [0.3, 0.6, 0.8],
                                               "per_model": {"conv6": {"milestones": [0.2, 0.6, 0.8]}}}}}


def test_training_for_resolves_dataset_then_model_overrides():
    conv6 = training_for(PAPER_TINY, "tinyimagenet", "conv6")
    assert conv6 == {**TRAINING_DEFAULTS, "epochs": 100, "milestones": [0.2, 0.6, 0.8], "weight_decay": 1e-4,
                     "threads": 4}
    wrn = training_for(PAPER_TINY, "tinyimagenet", "wrn28_2")
    assert (wrn["epochs"], wrn["milestones"], wrn["weight_decay"]) == (100, [0.3, 0.6, 0.8], 5e-4)
    cifar = training_for(PAPER_TINY, "cifar10", "conv6")
    assert (cifar["epochs"], cifar["milestones"]) == (160, [0.5, 0.75]) and "per_dataset" not in cifar
    # the main paper's schedules, in epochs
    assert milestone_epochs(conv6["epochs"], tuple(conv6["milestones"])) == [20, 60, 80]
    assert milestone_epochs(wrn["epochs"], tuple(wrn["milestones"])) == [30, 60, 80]
    assert milestone_epochs(cifar["epochs"], tuple(cifar["milestones"])) == [80, 120]
    assert training_for(None, "digits", "mlp") == {**TRAINING_DEFAULTS, "weight_decay": 1e-4}
    assert training_for({"weight_decay": 0.0}, "digits", "wrn28_2")["weight_decay"] == 0.0
    assert PAPER_TINY["per_dataset"]["tinyimagenet"]["per_model"]  # the input is not consumed


def test_training_defaults_follow_the_main_papers_optimiser():
    # SGD with momentum 0.9, lr 0.1 divided by 10 at 50% and 75% of training; weight decay per model
    assert {k: TRAINING_DEFAULTS[k] for k in ("lr", "momentum", "gamma", "milestones", "weight_decay")} == {
        "lr": 0.1, "momentum": 0.9, "gamma": 0.1, "milestones": [0.5, 0.75], "weight_decay": None}


def test_paper_config_uses_the_tinyimagenet_schedule():
    cfg = validate_config(yaml.safe_load((ROOT / "config" / "paper.yaml").read_text()),
                          ROOT / "workflow" / "schemas" / "config.schema.yaml", ROOT)
    assert {"snip", "grasp", "synflow", "prospr", "uniform", "er", "erk", "snfs", "rigl", "dsr",
            "itop"} <= set(cfg["pruners"])
    tiny = {m: training_for(cfg["training"], "tinyimagenet", m) for m in cfg["models"]}
    assert all(t["epochs"] == 100 for t in tiny.values())
    assert milestone_epochs(100, tuple(tiny["conv6"]["milestones"])) == [20, 60, 80]
    assert all(milestone_epochs(100, tuple(t["milestones"])) == [30, 60, 80] for m, t in tiny.items() if m != "conv6")
    assert training_for(cfg["training"], "cifar100", "conv6")["epochs"] == 160


@pytest.mark.parametrize("override,message", [
    ({"tinyimagnet": {"epochs": 100}},
     r"config key 'training.per_dataset': override for unknown dataset 'tinyimagnet'; known datasets: .*tinyimagenet"),
    ({"digits": {"per_model": {"conv7": {"epochs": 3}}}},
     r"config key 'training.per_dataset.digits.per_model': override for unknown model 'conv7'; known models: .*conv6"),
    ({"digits": {"epoch": 3}},
     r"unknown config key\(s\) \['epoch'\] at key 'training.per_dataset.digits'; allowed keys: batch_size, epochs"),
    ({"digits": {"per_model": {"mlp": {"threads": 2}}}},
     r"unknown config key\(s\) \['threads'\] at key 'training.per_dataset.digits.per_model.mlp'"),
    ({"digits": {"epochs": 0}}, r"'training.per_dataset.digits.epochs': value 0 is out of range; it must be >= 1"),
])
def test_per_dataset_overrides_are_validated(override, message):
    cfg = {"study": "t", "datasets": ["digits"], "models": ["mlp"], "pruners": ["erk"], "sparsities": [0.9],
           "seeds": [0], "training": {"epochs": 2, "per_dataset": override}}
    with pytest.raises(ConfigError, match=message):
        validate_config(cfg, ROOT / "workflow" / "schemas" / "config.schema.yaml", ROOT)


def _sgd_run(make, steps=4):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.ReLU(), torch.nn.Linear(4, 3))
    opt = make(net.parameters())
    for step in range(steps):
        x = torch.randn(8, 5, generator=torch.Generator().manual_seed(step))
        opt.zero_grad()
        net(x).pow(2).mean().backward()
        if step == 1:
            net[2].bias.grad = None  # a parameter without a gradient in one step
        opt.step()
    return net, opt


def test_sgd_foreach_is_bit_identical_to_the_loop_and_to_torch():
    loop, _ = _sgd_run(lambda p: SGD(p, lr=0.1, momentum=0.9, weight_decay=5e-4))
    fast, _ = _sgd_run(lambda p: SGD(p, lr=0.1, momentum=0.9, weight_decay=5e-4, foreach=True))
    ref, _ = _sgd_run(lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=5e-4, foreach=True))
    for a, b, c in zip(loop.parameters(), fast.parameters(), ref.parameters()):
        assert torch.equal(a, b) and torch.equal(a, c)


def test_sgd_state_dict_round_trip_continues_identically():
    full, _ = _sgd_run(lambda p: SGD(p, lr=0.1, momentum=0.9), steps=4)
    half, opt = _sgd_run(lambda p: SGD(p, lr=0.1, momentum=0.9), steps=2)
    state = opt.state_dict()
    assert sorted(state["state"]) == [0, 1, 2, 3] and state["param_groups"][0]["lr"] == 0.1
    resumed = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.ReLU(), torch.nn.Linear(4, 3))
    resumed.load_state_dict(half.state_dict())
    opt2 = SGD(resumed.parameters(), lr=0.5, momentum=0.9)
    opt2.load_state_dict(state)
    assert opt2.param_groups[0]["lr"] == 0.1
    for step in range(2, 4):
        x = torch.randn(8, 5, generator=torch.Generator().manual_seed(step))
        opt2.zero_grad()
        resumed(x).pow(2).mean().backward()
        opt2.step()
    assert all(torch.equal(a, b) for a, b in zip(full.parameters(), resumed.parameters()))


def test_make_optimizer_uses_torch_fast_path_only_on_cuda():
    params = list(torch.nn.Linear(3, 2).parameters())
    cpu = make_optimizer(params, 0.05, 0.8, 1e-3, torch.device("cpu"))
    assert isinstance(cpu, SGD) and cpu.param_groups[0]["momentum"] == 0.8
    cuda = make_optimizer(params, 0.05, 0.8, 1e-3, torch.device("cuda"))  # construction only: no GPU needed
    assert isinstance(cuda, torch.optim.SGD) and cuda.defaults["foreach"] is True
    assert (cuda.defaults["lr"], cuda.defaults["weight_decay"]) == (0.05, 1e-3)
