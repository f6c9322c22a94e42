"""Training: masked weights stay exactly zero after real SGD steps (momentum + weight decay); divergence."""

import math

import pytest
import torch
from torch.utils.data import TensorDataset

from sparsetopo.data import make_loader
from sparsetopo.models import build_model, prunable_layers
from sparsetopo.pruning import PruneContext, run_pruner
from sparsetopo.training import DivergedError, TrainSettings, milestone_epochs, settings_from_config, train


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
        r = train(net, masks, make_loader(data, 16, True, 4), make_loader(data, 96, False), TrainSettings(epochs=1))
        accs.append((r.accuracy, r.epochs[0]["train_loss"], [p.detach().clone() for p in net.parameters()]))
    assert accs[0][:2] == accs[1][:2]
    assert all(torch.equal(a, b) for a, b in zip(accs[0][2], accs[1][2]))


def test_non_finite_loss_raises_a_clear_error():
    net, masks = _setup("mlp")
    data = _data()
    with pytest.raises(DivergedError, match="non-finite training loss"):
        train(net, masks, make_loader(data, 16, True, 0), make_loader(data, 96, False),
              TrainSettings(epochs=2, lr=1e30))


def test_milestones_at_half_and_three_quarters():
    assert milestone_epochs(160, (0.5, 0.75)) == [80, 120]
    assert milestone_epochs(4, (0.5, 0.75)) == [2, 3]


def test_weight_decay_per_model():
    assert settings_from_config({"epochs": 1}, "wrn28_2").weight_decay == 5e-4
    assert settings_from_config({"epochs": 1}, "resnet20").weight_decay == 1e-4
    assert settings_from_config({"epochs": 1, "weight_decay": 0.0}, "wrn28_2").weight_decay == 0.0


def test_mask_history_records_every_epoch():
    net, masks = _setup()
    data = _data()
    r = train(net, masks, make_loader(data, 32, True, 0), make_loader(data, 96, False),
              TrainSettings(epochs=2, record_masks=True))
    assert len(r.mask_history) == 3 and all(torch.equal(r.mask_history[0][n], masks[n]) for n in masks)


def test_sgd_matches_torch_optim_sgd():
    from sparsetopo.training import SGD

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
