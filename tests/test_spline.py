"""The two spline pruners of You et al. (2022) as pruners of their own: ``spline_layerwise`` and ``spline_global``
are ``spline`` with the scope fixed by the name, and differ where the scopes should (a layer full of redundant
units is pruned harder by the global scope, while the layer-wise scope removes the same fraction everywhere)."""

from __future__ import annotations

import pytest
import torch

from sparsetopo.models import build_model
from sparsetopo.pruning import PRUNERS, PruneContext, run_pruner

INPUT = (1, 1, 4)
TOTAL = 4 * 8 + 8 * 8 + 8 * 2  # prunable weights of the net below


def _net():
    """4 inputs -> 8 (Linear, BN) -> 8 (Linear, BN) -> 2. The first hidden layer is four pairs of identical units;
    the second has eight distinct units."""
    torch.manual_seed(0)
    model = build_model("mlp", INPUT, 2, hidden=(8, 8), batch_norm=True)
    first = model.net[1]
    with torch.no_grad():
        rows = torch.randn(4, 4, generator=torch.Generator().manual_seed(1))
        first.weight.copy_(rows.repeat_interleave(2, dim=0))  # units 2k and 2k+1 are the same unit
        first.bias.zero_()
    return model


def _batches():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(64, *INPUT, generator=g)
    y = torch.randint(0, 2, (64,), generator=g)
    return lambda: iter([(x, y)])


def _prune(name: str, options: dict | None = None, keep: int = TOTAL - 4 * 12) -> dict[str, torch.Tensor]:
    ctx = PruneContext(model=_net(), sparsity=1 - keep / TOTAL, seed=0, input_shape=INPUT, num_classes=2,
                       options=dict(options or {}), batches=_batches())
    assert ctx.keep == keep
    return run_pruner(name, ctx)


def _removed_units(masks: dict[str, torch.Tensor]) -> dict[str, list[int]]:
    """Hidden units whose incoming row is gone entirely, per hidden layer."""
    return {name: [int(k) for k in torch.nonzero(~masks[name].any(dim=1)).flatten()] for name in ("net.1", "net.4")}


def test_registered_with_the_options_of_spline():
    for name, scope in (("spline_layerwise", "layerwise"), ("spline_global", "global")):
        pruner = PRUNERS.get(name)
        assert pruner.needs_data
        assert dict(pruner.defaults) == {**PRUNERS.get("spline").defaults, "scope": scope}


@pytest.mark.parametrize("variant", ["hyperplane", "hamming"])
def test_same_masks_as_spline_with_that_scope(variant):
    for name, scope in (("spline_layerwise", "layerwise"), ("spline_global", "global")):
        ours = _prune(name, {"variant": variant})
        theirs = _prune("spline", {"variant": variant, "scope": scope})
        assert ours.keys() == theirs.keys()
        for layer in ours:
            assert torch.equal(ours[layer], theirs[layer]), (name, layer)


def test_global_prunes_the_redundant_layer_layerwise_prunes_every_layer():
    """Budget: 48 weights to go = 4 first-layer units (4 in + 8 out weights each). The global scope spends it on the
    duplicates only (one of each pair, redundancy 0); the layer-wise scope removes units of both hidden layers."""
    glob, layer = _prune("spline_global"), _prune("spline_layerwise")
    removed = _removed_units(glob)
    assert len(removed["net.1"]) == 4 and removed["net.4"] == []
    assert sorted(k // 2 for k in removed["net.1"]) == [0, 1, 2, 3]  # one member of each identical pair
    assert all(not glob["net.4"][:, k].any() for k in removed["net.1"])  # their outgoing weights went too
    assert int(glob["net.7"].sum()) == 16  # the classifier keeps everything

    removed = _removed_units(layer)
    assert removed["net.1"] and removed["net.4"], removed
    assert any(not torch.equal(glob[n], layer[n]) for n in glob)
    for masks in (glob, layer):
        assert sum(int(m.sum()) for m in masks.values()) == TOTAL - 48


def test_a_scope_option_contradicting_the_name_is_an_error():
    with pytest.raises(ValueError, match="spline_global.*scope='layerwise'"):
        _prune("spline_global", {"scope": "layerwise"})
    assert _removed_units(_prune("spline_global", {"scope": "global"})) == _removed_units(_prune("spline_global"))
