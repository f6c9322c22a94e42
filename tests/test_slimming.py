"""Network slimming: channels go in ascending |γ| order (one global ranking), at the exact weight budget."""

from __future__ import annotations

import pytest
import torch

from sparsetopo.models import build_model, prunable_layers
from sparsetopo.pruning import PRUNERS, PruneContext, run_pruner
from sparsetopo.pruning.slimming import bn_after_layers, channel_scores

SHAPE, CLASSES = (1, 4, 4), 3
GAMMA1 = [0.9, 0.05, 0.8, 0.7, -0.01, 0.6, 0.5, 0.4]  # BN after net.1 (16 -> 8); |γ| counts, not its sign
GAMMA2 = [0.03, 0.95, 0.2, 0.85, 0.75, 0.65]          # BN after net.4 (8 -> 6); net.7: 6 -> 3 classes


def slim_mlp(seed: int = 0):
    torch.manual_seed(seed)
    net = build_model("mlp", SHAPE, CLASSES, hidden=(8, 6), batch_norm=True)
    with torch.no_grad():
        net.net[2].weight.copy_(torch.tensor(GAMMA1))
        net.net[5].weight.copy_(torch.tensor(GAMMA2))
    return net


def prune(net, sparsity, **options):
    return run_pruner("slimming", PruneContext(net, sparsity, 0, SHAPE, CLASSES, {"epochs": 0, **options}))


def test_channels_with_the_smallest_gamma_go_first():
    net = slim_mlp()
    assert [name for name, _ in bn_after_layers(net)] == ["net.1", "net.4"]
    scores = channel_scores(net)
    # global ascending |γ|: 0.01 (net.1 unit 4), 0.03 (net.4 unit 0), 0.05 (net.1 unit 1), 0.2 (net.4 unit 2), ...
    assert scores["net.1"][4] == 0 and scores["net.4"][0] == 1 / 14 and scores["net.1"][1] == 2 / 14
    assert scores["net.1"][0] == float("inf") and scores["net.4"][1] == float("inf")  # each layer's largest kept
    # removing net.1 unit 4 (row of 16 + column of 6), net.4 unit 0 (row of 8 + column of 3, minus the weight
    # from net.1 unit 4 already gone) and net.1 unit 1 (16 + 6, minus its weight into net.4 unit 0) frees
    # 22 + 10 + 21 = 53 of the 194 weights: keep 141
    masks = prune(net, 53 / 194)
    expected = {n: torch.ones_like(m.weight, dtype=torch.bool) for n, m in prunable_layers(net)}
    expected["net.1"][[1, 4], :] = False
    expected["net.4"][:, [1, 4]] = False
    expected["net.4"][0, :] = False
    expected["net.7"][:, 0] = False
    assert all(torch.equal(masks[n], expected[n]) for n in masks)
    assert sum(int(m.sum()) for m in masks.values()) == 141


def test_the_channel_at_the_cut_loses_only_part_of_its_weights():
    net = slim_mlp()
    masks = prune(net, 58 / 194)  # the 53 above, then 5 of the 9 remaining weights of net.4 unit 2 (|γ| 0.2)
    assert sum(int(m.sum()) for m in masks.values()) == 136
    assert not masks["net.1"][[1, 4], :].any() and not masks["net.4"][0, :].any() and not masks["net.7"][:, 0].any()
    unit2 = torch.cat([masks["net.4"][2, [0, 2, 3, 5, 6, 7]], masks["net.7"][:, 2]])
    assert int((~unit2).sum()) == 5
    others = masks["net.4"].clone()
    others[:, [1, 4]] = True
    others[[0, 2], :] = True
    assert others.all() and masks["net.1"][[0, 2, 3, 5, 6, 7], :].all()


def _batches(seed=0, n=64, batch=16):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, *SHAPE, generator=g)
    y = (x.flatten(1)[:, 0] > 0).long()
    data = [(x[i:i + batch], y[i:i + batch]) for i in range(0, n, batch)]
    return lambda: iter(data)


def test_sparsity_pretraining_shrinks_gamma_and_rewinds_by_default():
    net = build_model("mlp", SHAPE, CLASSES, hidden=(8, 6), batch_norm=True)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    options = {"epochs": 3, "l1": 0.05}
    ctx = PruneContext(net, 0.5, 0, SHAPE, CLASSES, dict(options), batches=_batches())
    masks = run_pruner("slimming", ctx)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())  # weights: init -> untouched
    assert sum(int(m.sum()) for m in masks.values()) == ctx.keep
    again = run_pruner("slimming", PruneContext(net, 0.5, 0, SHAPE, CLASSES, dict(options), batches=_batches()))
    assert all(torch.equal(masks[n], again[n]) for n in masks)  # deterministic
    trained = PruneContext(net, 0.5, 0, SHAPE, CLASSES, {**options, "weights": "trained"}, batches=_batches())
    run_pruner("slimming", trained)
    gamma = torch.cat([net.net[2].weight.detach(), net.net[5].weight.detach()])
    assert float(gamma.abs().mean()) < 0.95  # the L1 subgradient pulled |γ| below its initial 1
    assert not torch.equal(before["net.1.weight"], net.state_dict()["net.1.weight"])  # weights: trained


def test_slimming_needs_batchnorm_and_data():
    assert PRUNERS.get("slimming").needs_data
    plain = build_model("mlp", SHAPE, CLASSES, hidden=(8,))
    with pytest.raises(ValueError, match="no Conv2d/Linear followed by a BatchNorm"):
        prune(plain, 0.5)
    with pytest.raises(ValueError, match="needs training batches"):
        prune(slim_mlp(), 0.5, epochs=1)
    with pytest.raises(ValueError, match="'init' or 'trained'"):
        prune(slim_mlp(), 0.5, weights="rewound")
