"""Dynamic sparse training hooks: SET and RigL."""

from __future__ import annotations

import importlib.util

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sparsetopo.models import build_model, prunable_layers
from sparsetopo.pruning import PRUNERS, PruneContext, apply_masks, run_pruner
from sparsetopo.pruning.dynamic.gradient_growth import RigLHook, rigl_drop_grow
from sparsetopo.pruning.dynamic.random_growth import SETHook, set_drop_indices

torch.set_num_threads(1)  # 2 shared cores: one thread avoids oversubscription stalls

SHAPE, CLASSES = (1, 4, 4), 3


def tiny_mlp(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return build_model("mlp", SHAPE, CLASSES, hidden=(24, 12))


def random_data(seed: int = 0, n: int = 96, batch: int = 12):
    g = torch.Generator().manual_seed(seed)
    x, y = torch.randn(n, *SHAPE, generator=g), torch.randint(0, CLASSES, (n,), generator=g)
    return [(x[i:i + batch], y[i:i + batch]) for i in range(0, n, batch)]


def minimal_train(model, masks, hook, batches, epochs, lr=0.05):
    """The training protocol of sparsetopo.training, step by step; returns per-epoch mask snapshots."""
    layers = dict(prunable_layers(model))
    apply_masks(model, masks)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    hook.begin(model, masks, optimizer, len(batches), epochs)
    history = [{n: m.clone() for n, m in masks.items()}]
    step = 0
    for epoch in range(1, epochs + 1):
        for x, y in batches:
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            hook.after_backward(step, model, masks)
            for n, m in masks.items():
                layers[n].weight.grad.mul_(m)
            optimizer.step()
            apply_masks(model, masks)
            step += 1
        hook.end_epoch(epoch, model, masks)
        apply_masks(model, masks)
        history.append({n: m.clone() for n, m in masks.items()})
    return history


def start(name: str, seed: int = 0, sparsity: float = 0.8, options=None):
    model = tiny_mlp()
    pruner = PRUNERS.get(name)
    opts = {**pruner.defaults, **(options or {})}
    masks = run_pruner(name, PruneContext(model, sparsity, seed, SHAPE, CLASSES, dict(opts)))
    return model, masks, pruner.dynamic(opts, seed)


def test_initial_masks_are_er_and_erk_with_exact_count():
    model = tiny_mlp()
    for name, base in (("set", "er"), ("rigl", "erk")):
        masks = run_pruner(name, PruneContext(model, 0.8, 3, SHAPE, CLASSES, {}))
        ref = run_pruner(base, PruneContext(model, 0.8, 3, SHAPE, CLASSES, {}))
        assert all(torch.equal(masks[n], ref[n]) for n in masks)
        assert sum(int(m.sum()) for m in masks.values()) == round(0.2 * (16 * 24 + 24 * 12 + 12 * 3))


@pytest.mark.parametrize("name,options,updates", [
    ("set", {}, 3),                                  # 4 epochs, skip_last_epoch -> 3 evolutions
    ("set", {"skip_last_epoch": False, "regrow_init": "small_random"}, 4),
    ("rigl", {"delta_t": 3}, 7),                     # 32 steps, T_end = 24: steps 3, 6, ..., 21 -> 7 updates
])
def test_density_constant_and_topology_changes(name, options, updates):
    model, masks, hook = start(name, options=options)
    history = minimal_train(model, masks, hook, random_data(), epochs=4)
    counts0 = {n: int(m.sum()) for n, m in history[0].items()}
    for snap in history:
        assert {n: int(m.sum()) for n, m in snap.items()} == counts0
    assert any(not torch.equal(history[-1][n], history[0][n]) for n in masks)
    assert hook.updates == updates
    if name == "set":
        assert torch.equal(history[-1]["net.1"], history[-2]["net.1"]) == options.get("skip_last_epoch", True)
    else:
        assert not torch.equal(history[2]["net.1"], history[1]["net.1"])  # epoch 2 holds steps 8..15
        assert torch.equal(history[4]["net.1"], history[3]["net.1"])  # epoch 4 (steps 24..31) >= T_end
    for n, m in prunable_layers(model):
        assert bool((m.weight[~masks[n]] == 0).all())
    # determinism: same seed, same trajectory
    model2, masks2, hook2 = start(name, options=options)
    history2 = minimal_train(model2, masks2, hook2, random_data(), epochs=4)
    assert all(torch.equal(history[-1][n], history2[-1][n]) for n in masks)


def test_set_removes_exact_per_sign_counts():
    weight = torch.tensor([[0.5, 0.1, -0.4, 0.0, 0.3],
                           [0.9, -0.01, 0.0, 0.2, -0.8],
                           [0.0, 0.7, 0.05, -0.3, 0.0],
                           [0.6, 0.0, -2.0, 0.0, 0.0]])
    mask = weight != 0
    mask[3, 0] = False  # an inactive non-zero entry is never considered
    # positives active: 0.5 0.1 0.3 0.9 0.2 0.7 0.05 -> floor(0.3*7) = 2 removed: 0.05, 0.1
    # negatives active: -0.4 -0.01 -0.8 -0.3 -2.0 -> floor(0.3*5) = 1 removed: -0.01 (closest to zero)
    drop_pos, drop_neg = set_drop_indices(weight, mask, 0.3)
    assert sorted(drop_pos.tolist()) == [1, 12] and drop_neg.tolist() == [6]
    # zeta = 0.5: floor(3.5) = 3 positives (0.05, 0.1, 0.2) and floor(2.5) = 2 negatives (-0.01, -0.3): 5 in
    # total, whereas a global |w| ranking would remove floor(0.5 * 12) = 6 including the positive 0.3
    drop_pos, drop_neg = set_drop_indices(weight, mask, 0.5)
    assert sorted(drop_pos.tolist()) == [1, 8, 12] and sorted(drop_neg.tolist()) == [6, 13]

    layer = nn.Linear(5, 4, bias=False)
    with torch.no_grad():
        layer.weight.copy_(weight * mask)
    hook = SETHook({"zeta": 0.3}, seed=0)
    masks = {"": mask.clone()}
    hook.begin(layer, masks, torch.optim.SGD(layer.parameters(), lr=0.1, momentum=0.9), 1, 5)
    hook.end_epoch(1, layer, masks)
    dropped, grown = hook.last_changes[""]
    assert sorted(dropped.tolist()) == [1, 6, 12] and grown.numel() == 3
    assert int(masks[""].sum()) == int(mask.sum())
    assert bool((~mask.reshape(-1)[grown] | torch.isin(grown, dropped)).all())  # grown where empty after removal
    assert bool((layer.weight.reshape(-1)[grown] == 0).all())  # regrow_init zero
    survivors = mask.reshape(-1).clone()
    survivors[dropped] = False
    assert torch.equal(layer.weight.detach().reshape(-1)[survivors], weight.reshape(-1)[survivors])


def test_rigl_grows_largest_gradient_among_previously_inactive():
    weight = torch.tensor([[0.5, -0.02, 0.0, 0.0], [0.0, 0.9, -0.6, 0.0], [0.01, 0.0, 0.0, 0.3]])
    mask = weight != 0  # active (flat) 0, 1, 5, 6, 8, 11
    grad = torch.tensor([[9.0, 50.0, 1.0, -4.0], [0.5, 7.0, 3.0, -6.0], [8.0, 2.0, -0.1, 5.0]])
    assert (~mask).reshape(-1).nonzero().squeeze(1).tolist() == [2, 3, 4, 7, 9, 10]
    # k = floor(0.4 * 6) = 2: drop the two smallest |w| (0.01 at 8, -0.02 at 1; index 1 has the largest
    # gradient of all but was active); grow the inactive-before-drop positions with the largest |g|:
    # 7 (|-6|) and 3 (|-4|); the just-dropped 1 and 8 are not candidates
    drop, grow = rigl_drop_grow(weight, grad, mask, 0.4)
    assert sorted(drop.tolist()) == [1, 8]
    assert grow.tolist() == [7, 3]

    layer = nn.Linear(4, 3, bias=False)
    with torch.no_grad():
        layer.weight.copy_(weight)
    layer.weight.grad = grad.clone()
    hook = RigLHook({"delta_t": 10, "alpha": 0.6, "end_fraction": 0.5}, seed=0)
    masks = {"": mask.clone()}
    hook.begin(layer, masks, torch.optim.SGD(layer.parameters(), lr=0.1, momentum=0.9), 100, 1)
    assert hook.end_step == 50
    assert hook.fraction(0) == pytest.approx(0.6) and hook.fraction(25) == pytest.approx(0.3)
    assert [s for s in range(100) if hook.is_update_step(s)] == [10, 20, 30, 40]
    hook.after_backward(5, layer, masks)  # not an update step
    assert torch.equal(masks[""], mask) and not hook.last_changes
    hook.after_backward(20, layer, masks)  # f(20) = 0.3 (1 + cos(0.4 pi)) = 0.39 -> k = floor(2.36) = 2
    dropped, grown = hook.last_changes[""]
    assert sorted(dropped.tolist()) == [1, 8] and grown.tolist() == [7, 3]
    expected = mask.reshape(-1).clone()
    expected[[1, 8]] = False
    expected[[7, 3]] = True
    assert torch.equal(masks[""].reshape(-1), expected)
    flat = layer.weight.detach().reshape(-1)
    assert flat[[1, 8, 7, 3]].tolist() == [0.0, 0.0, 0.0, 0.0]  # dropped zeroed, grown start at zero
    assert flat[[0, 5, 6, 11]].tolist() == pytest.approx([0.5, 0.9, -0.6, 0.3])


def test_momentum_zeroed_exactly_at_changed_positions():
    for name, options in (("set", {"skip_last_epoch": False}), ("rigl", {"delta_t": 1})):
        model, masks, hook = start(name, options=options)
        batches = random_data()
        layers = dict(prunable_layers(model))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        hook.begin(model, masks, optimizer, len(batches), 2)
        for x, y in batches[:2]:  # populate momentum buffers
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
        before = {n: optimizer.state[layers[n].weight]["momentum_buffer"].clone() for n in masks}
        assert all(bool((b != 0).any()) for b in before.values())
        optimizer.zero_grad()
        F.cross_entropy(model(batches[2][0]), batches[2][1]).backward()
        if name == "set":
            hook.end_epoch(1, model, masks)
        else:
            hook.after_backward(1, model, masks)
        for n in masks:
            buf = optimizer.state[layers[n].weight]["momentum_buffer"].reshape(-1)
            dropped, grown = hook.last_changes[n]
            changed = torch.zeros(buf.numel(), dtype=torch.bool)
            changed[dropped] = True
            changed[grown] = True
            assert changed.any()
            assert bool((buf[changed] == 0).all())
            assert torch.equal(buf[~changed], before[n].reshape(-1)[~changed])


def test_bad_options_fail_clearly():
    with pytest.raises(ValueError, match="regrow_init"):
        SETHook({"regrow_init": "gaussian"}, 0)
    with pytest.raises(ValueError, match="delta_t"):
        RigLHook({"delta_t": 0}, 0)


@pytest.mark.skipif(importlib.util.find_spec("sparsetopo.training") is None, reason="training module not present")
@pytest.mark.parametrize("name,options", [("set", {}), ("rigl", {"delta_t": 2})])
def test_through_training_loop(name, options):
    from sparsetopo import training

    if not hasattr(training, "train"):
        pytest.skip("sparsetopo.training.train not available")
    model, masks, hook = start(name, options=options)
    data = random_data()
    settings = training.TrainSettings(epochs=3, lr=0.05, weight_decay=1e-4, batch_size=12, record_masks=True)
    result = training.train(model, masks, data, data[:2], settings, "cpu", hook=hook)
    history = result.mask_history
    assert len(history) == 4
    counts0 = {n: int(m.sum()) for n, m in history[0].items()}
    assert all({n: int(m.sum()) for n, m in snap.items()} == counts0 for snap in history)
    assert any(not torch.equal(history[-1][n], history[0][n]) for n in history[0])
    for n, m in prunable_layers(model):
        assert bool((m.weight[~history[-1][n]] == 0).all())


def test_set_leaves_fully_dense_layer_alone():
    layer = nn.Linear(3, 2, bias=False)
    before = layer.weight.detach().clone()
    masks = {"": torch.ones(2, 3, dtype=torch.bool)}
    hook = SETHook({}, seed=0)
    hook.begin(layer, masks, torch.optim.SGD(layer.parameters(), lr=0.1), 1, 3)
    hook.end_epoch(1, layer, masks)
    assert bool(masks[""].all()) and torch.equal(layer.weight.detach(), before)


def test_set_small_random_regrowth_is_seeded_and_small():
    values = []
    for _ in range(2):
        layer = nn.Linear(10, 10, bias=False)
        with torch.no_grad():
            layer.weight.copy_(torch.linspace(-1, 1, 100).reshape(10, 10))
        mask = torch.zeros(10, 10, dtype=torch.bool)
        mask[:, :5] = True  # 50 active: 25 negative, 25 positive -> 7 + 7 removed
        masks = {"": mask}
        hook = SETHook({"regrow_init": "small_random"}, seed=3)
        hook.begin(layer, masks, torch.optim.SGD(layer.parameters(), lr=0.1), 1, 2)
        hook.end_epoch(1, layer, masks)
        dropped, grown = hook.last_changes[""]
        assert dropped.numel() == 14 and grown.numel() == 14 and int(mask.sum()) == 50
        new = layer.weight.detach().reshape(-1)[grown]
        assert bool((new != 0).all()) and float(new.abs().max()) < 0.05  # N(0, 0.01^2)
        values.append((grown.clone(), new.clone()))
    assert torch.equal(values[0][0], values[1][0]) and torch.equal(values[0][1], values[1][1])


@pytest.mark.parametrize("name,options", [("set", {"skip_last_epoch": False}), ("rigl", {"delta_t": 2})])
def test_conv_layers_keep_density(name, options):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(),
                          nn.Conv2d(6, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 16, CLASSES))
    pruner = PRUNERS.get(name)
    opts = {**pruner.defaults, **options}
    masks = run_pruner(name, PruneContext(model, 0.7, 0, SHAPE, CLASSES, dict(opts)))
    history = minimal_train(model, masks, pruner.dynamic(opts, 0), random_data(), epochs=3)
    assert all(int(history[-1][n].sum()) == int(history[0][n].sum()) for n in masks)
    assert not torch.equal(history[-1]["3"], history[0]["3"]) and history[-1]["3"].shape == (8, 6, 3, 3)


# ------------------------------------------------------------------------------------ SNFS, DSR and ITOP

from sparsetopo.pruning.dynamic.base import allocate, cosine_rate  # noqa: E402
from sparsetopo.pruning.dynamic.gradient_growth import ITOPHook  # noqa: E402
from sparsetopo.pruning.dynamic.momentum_growth import SNFSHook, momentum_shares  # noqa: E402
from sparsetopo.pruning.dynamic.random_growth import DSRHook, dsr_threshold_step  # noqa: E402

DYNAMIC = [("set", {"skip_last_epoch": False}), ("rigl", {"delta_t": 3}), ("snfs", {}),
           ("snfs", {"delta_t": 5}), ("dsr", {"delta_t": 4}), ("itop", {"delta_t": 4})]


class TwoLayers(nn.Module):
    """Two bias-free 10x10 linear layers (100 weights each) for hand-computed reallocation cases."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(10, 10, bias=False)
        self.b = nn.Linear(10, 10, bias=False)

    def forward(self, x):
        return self.b(torch.relu(self.a(x)))


def two_layers(active: int = 20):
    """TwoLayers with the first ``active`` flat positions of each layer active, |w| = 1..active there."""
    net = TwoLayers()
    masks = {}
    with torch.no_grad():
        for name in ("a", "b"):
            mask = torch.zeros(100, dtype=torch.bool)
            mask[:active] = True
            w = torch.zeros(100)
            w[:active] = torch.arange(1, active + 1, dtype=torch.float32) * torch.tensor([1.0, -1.0]).repeat(
                active // 2)
            getattr(net, name).weight.copy_(w.view(10, 10))
            masks[name] = mask.view(10, 10)
    return net, masks


def test_allocate_is_proportional_capped_and_exact():
    assert allocate(20, [3.0, 1.0], [100, 100]).tolist() == [15, 5]
    # the first layer can take only 4: its excess goes to the others by their shares (1:1)
    assert allocate(20, [3.0, 1.0, 1.0], [4, 100, 100]).tolist() == [4, 8, 8]
    assert allocate(10, [1.0, 1.0, 1.0], [10, 10, 10]).tolist() == [4, 3, 3]  # largest remainder, ties by position
    assert allocate(6, [0.0, 0.0], [1, 9]).tolist() == [1, 5]  # no share anywhere: by free capacity (0.6 + 5.4)
    with pytest.raises(ValueError, match="cannot place"):
        allocate(5, [1.0], [4])


def test_cosine_rate_schedule():
    assert cosine_rate(0.5, 0, 100) == pytest.approx(0.5)
    assert cosine_rate(0.5, 50, 100) == pytest.approx(0.005 + 0.495 * 0.5)
    assert cosine_rate(0.5, 100, 100) == pytest.approx(0.005)
    assert cosine_rate(0.5, 250, 100) == pytest.approx(0.005)  # clipped after the end


def test_snfs_redistributes_density_toward_larger_mean_momentum():
    net, masks = two_layers()
    hook = SNFSHook({"prune_rate": 0.5, "decay": "constant"}, seed=0)
    hook.begin(net, masks, torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9), 10, 5)
    assert hook.beta == 0.9  # the optimiser's momentum
    # mean |M| over the active weights: 3 in layer a, 1 in layer b -> shares 0.75 / 0.25; the inactive
    # positions' momentum decides where weights grow (position 99 - i has |M| = 10 + i)
    for name, level in (("a", 3.0), ("b", 1.0)):
        m = torch.zeros(100)
        m[:20] = level
        m[80:] = 10.0 + torch.arange(20, 0, -1, dtype=torch.float32)  # largest at 80
        hook.momentum[name] = m.view(10, 10).clone()
    assert momentum_shares(hook.momentum, masks).tolist() == pytest.approx([0.75, 0.25])
    hook.update(masks, 0.5)
    # death: ceil(0.5 * 20) = 10 smallest |w| per layer (|w| = 1..10 at positions 0..9); K = 20 regrown
    # 15 / 5 by the shares, at the empty positions with the largest |M| (80, 81, ...)
    assert {n: int(m.sum()) for n, m in masks.items()} == {"a": 25, "b": 15}
    for name, grown in (("a", 15), ("b", 5)):
        flat = masks[name].reshape(-1)
        assert not flat[:10].any() and flat[10:20].all()
        assert flat[80:80 + grown].all() and not flat[80 + grown:].any() and not flat[20:80].any()
        dropped, new = hook.last_changes[name]
        assert sorted(dropped.tolist()) == list(range(10)) and sorted(new.tolist()) == list(range(80, 80 + grown))
        w = getattr(net, name).weight.detach().reshape(-1)
        assert bool((w[:10] == 0).all() and (w[80:] == 0).all()) and bool((w[10:20] != 0).all())


def test_snfs_full_layer_passes_its_excess_on():
    net, masks = two_layers()
    masks["a"].view(-1)[:95] = True  # layer a: 95 active, 5 empty
    with torch.no_grad():
        net.a.weight.view(-1)[:95] = torch.arange(1, 96, dtype=torch.float32)
    hook = SNFSHook({"prune_rate": 0.2, "decay": "constant"}, seed=0)
    hook.begin(net, masks, torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9), 10, 5)
    hook.momentum = {"a": torch.full((10, 10), 9.0), "b": torch.full((10, 10), 1.0)}  # shares 0.9 / 0.1
    hook.update(masks, 0.2)
    # removed: ceil(0.2 * 95) = 19 in a, ceil(0.2 * 20) = 4 in b, K = 23; a can take back 19 + 5 = 24 >= 0.9 K
    # = 20.7, so a: 95 - 19 + 21 = 97, b: 20 - 4 + 2 = 18 (20.7 / 2.3 rounded by largest remainder)
    assert {n: int(m.sum()) for n, m in masks.items()} == {"a": 97, "b": 18}
    assert int(masks["a"].sum() + masks["b"].sum()) == 115


def test_dsr_threshold_step():
    assert dsr_threshold_step(0.1, 53, 60, 0.1) == 0.2     # 53 < 54: double
    assert dsr_threshold_step(0.1, 54, 60, 0.1) == 0.1     # inside [54, 66]: keep
    assert dsr_threshold_step(0.1, 67, 60, 0.1) == 0.05    # 67 > 66: halve


def _dsr_round(hook, magnitudes):
    """One DSR update on a fresh 1,000-weight layer whose 200 active weights have the given |w|."""
    layer = nn.Linear(50, 20, bias=False)
    mask = torch.zeros(1000, dtype=torch.bool)
    mask[:200] = True
    with torch.no_grad():
        layer.weight.zero_()
        layer.weight.view(-1)[:200] = magnitudes
    masks = {"": mask.view(20, 50)}
    hook.begin(layer, masks, torch.optim.SGD(layer.parameters(), lr=0.1, momentum=0.9), 10, 5)
    hook.reallocate(masks)
    assert int(masks[""].sum()) == 200
    return hook.history[-1]


def test_dsr_threshold_adapts_until_it_prunes_its_target_count():
    # 60 weights with |w| in [0.13, 0.19], 140 in [1.5, 1.99]; target N_p = 0.3 * 200 = 60, band [54, 66]
    small = torch.linspace(0.13, 0.19, 60)
    magnitudes = torch.cat([small, torch.linspace(1.5, 1.99, 140)])
    hook = DSRHook({"threshold": 0.001, "prune_rate": 0.3, "tolerance": 0.1}, seed=0)
    rounds = [_dsr_round(hook, magnitudes) for _ in range(11)]
    # from below: 0.001, 0.002, ..., 0.128 prune nothing (K = 0 < 54: double); 0.256 prunes the 60 small ones
    assert [h for h, _, _ in rounds] == pytest.approx([0.001 * 2 ** k for k in range(9)] + [0.256, 0.256])
    assert [k for _, k, _ in rounds] == [0] * 8 + [60, 60, 60] and {t for _, _, t in rounds} == {60}
    # from above: 4.096 and 2.048 prune all 200 (> 66: halve), 1.024 prunes the 60 small ones and stays
    hook = DSRHook({"threshold": 4.096}, seed=0)
    rounds = [_dsr_round(hook, magnitudes) for _ in range(4)]
    assert [h for h, _, _ in rounds] == pytest.approx([4.096, 2.048, 1.024, 1.024])
    assert [k for _, k, _ in rounds] == [200, 200, 60, 60]


def test_dsr_reallocates_in_proportion_to_surviving_weights():
    net, masks = two_layers()
    with torch.no_grad():  # layer a: 18 of its 20 weights survive |w| >= 0.5; layer b: 6 of 20
        net.a.weight.view(-1)[:20] = torch.tensor([0.1, 0.2] + [1.0] * 18)
        net.b.weight.view(-1)[:20] = torch.tensor([0.1] * 14 + [1.0] * 6)
    hook = DSRHook({"threshold": 0.5, "prune_rate": 0.3}, seed=0)
    hook.begin(net, masks, torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9), 10, 5)
    hook.reallocate(masks)
    # K = 2 + 14 = 16 freed, regrown 16 * 18/24 = 12 in a and 16 * 6/24 = 4 in b, at random empty positions
    assert {n: int(m.sum()) for n, m in masks.items()} == {"a": 30, "b": 10}
    # target round(0.3 * 40) = 12, band [10.8, 13.2]: 16 pruned is too many, so the next threshold halves
    assert hook.history == [(0.5, 16, 12)] and hook.threshold == 0.25
    for name, survivors in (("a", range(2, 20)), ("b", range(14, 20))):
        assert masks[name].reshape(-1)[list(survivors)].all()
        dropped, grown = hook.last_changes[name]
        assert bool((getattr(net, name).weight.detach().reshape(-1)[grown] == 0).all())


def test_itop_exploration_rate_grows_and_counts_every_weight_ever_active():
    model, masks, hook = start("itop", options={"delta_t": 8})  # 8 batches: one update per epoch from epoch 2
    batches = random_data()
    rates = []
    original = hook.end_epoch

    def record(epoch, model_, masks_):
        original(epoch, model_, masks_)
        rates.append(hook.exploration_rate)

    hook.end_epoch = record
    history = minimal_train(model, masks, hook, batches, epochs=5)
    total = sum(m.numel() for m in masks.values())
    union = {n: torch.zeros_like(m) for n, m in history[0].items()}
    expected = []
    for snap in history[1:]:
        for n in union:
            union[n] |= snap[n]
        expected.append(sum(int(u.sum()) for u in union.values()) / total)
    assert rates == pytest.approx(expected)  # one update per epoch: the union of the epoch snapshots
    density = sum(int(m.sum()) for m in history[0].values()) / total
    assert rates[0] == pytest.approx(density)  # no update during epoch 1
    assert all(b > a for a, b in zip(rates, rates[1:]))  # grows at every update
    assert hook.epoch_stats() == {"exploration_rate": rates[-1]}
    # the drop fraction decays from 0.5 (cosine, floor 0.005) and updates last until the end
    assert hook.fraction(0) == pytest.approx(0.5) and hook.fraction(40) == pytest.approx(0.005)
    assert hook.is_update_step(32) and not hook.is_update_step(33)


@pytest.mark.parametrize("name,options", DYNAMIC)
def test_dynamic_training_keeps_the_global_count_exact(name, options):
    model, masks, hook = start(name, options=options)
    history = minimal_train(model, masks, hook, random_data(), epochs=4)
    total0 = sum(int(m.sum()) for m in history[0].values())
    assert all(sum(int(m.sum()) for m in snap.values()) == total0 for snap in history)
    assert any(not torch.equal(history[-1][n], history[0][n]) for n in masks)
    assert hook.updates > 0
    for n, m in prunable_layers(model):
        assert bool((m.weight[~masks[n]] == 0).all())
    model2, masks2, hook2 = start(name, options=options)
    history2 = minimal_train(model2, masks2, hook2, random_data(), epochs=4)
    assert all(torch.equal(history[-1][n], history2[-1][n]) for n in masks)


def test_initial_masks_of_snfs_dsr_itop():
    model = tiny_mlp()
    for name, base in (("snfs", "uniform"), ("dsr", "uniform"), ("itop", "erk")):
        masks = run_pruner(name, PruneContext(model, 0.8, 3, SHAPE, CLASSES, {}))
        ref = run_pruner(base, PruneContext(model, 0.8, 3, SHAPE, CLASSES, {}))
        assert all(torch.equal(masks[n], ref[n]) for n in masks)
    with pytest.raises(ValueError, match="initial mask 'snip'"):
        run_pruner("snfs", PruneContext(model, 0.8, 3, SHAPE, CLASSES, {"init": "snip"}))
    with pytest.raises(ValueError, match="prune_rate"):
        DSRHook({"prune_rate": 1.5}, 0)
    with pytest.raises(ValueError, match="decay"):
        SNFSHook({"decay": "linear"}, 0)
    with pytest.raises(ValueError, match="delta_t"):
        ITOPHook({"delta_t": 0}, 0)


def test_unknown_dynamic_options_are_named():
    with pytest.raises(ValueError, match=r"dsr: unknown option\(s\) \['delta'\]; known options: delta_t, init"):
        DSRHook({"delta": 5}, 0)
    with pytest.raises(ValueError, match=r"itop: unknown option\(s\) \['alpha'\]"):
        ITOPHook({"alpha": 0.3}, 0)
    with pytest.raises(ValueError, match=r"rigl: unknown option\(s\) \['prune_rate'\]"):
        RigLHook({"prune_rate": 0.3}, 0)
    for name in ("set", "rigl", "snfs", "dsr", "itop"):  # the registered defaults are accepted as they are
        pruner = PRUNERS.get(name)
        assert pruner.dynamic(dict(pruner.defaults), 0).updates == 0
