"""Early-bird detectors (mask distance, spline patterns), recorder, channel pruning, and the spline pruner."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from sparsetopo.earlybird import (
    EarlyBirdRecorder,
    PatternRecord,
    bn_layers,
    channel_mask,
    detect_mask_eb,
    detect_spline_eb,
    hamming,
    l1_bn_penalty,
    mask_distance_matrix,
    pack_pattern,
    packed_hamming,
    prune_channels,
    record_patterns,
    spline_distance_matrix,
)
from sparsetopo.models import build_model


def _stabilising_masks(n_epochs: int, stable_from: int, size: int = 200, flips: int = 0, seed: int = 0):
    rng = np.random.default_rng(seed)
    base = rng.random(size) < 0.5
    out = []
    for t in range(n_epochs):
        if t < stable_from:
            out.append(rng.random(size) < 0.5)
        else:
            m = base.copy()
            m[rng.choice(size, flips, replace=False)] ^= True
            out.append(m)
    return np.stack(out)


def test_channel_mask_global_threshold():
    g = np.array([0.1, -0.5, 0.3, 0.9])
    # sorted |γ| = [0.1, 0.3, 0.5, 0.9]; τ = sorted[floor(0.5*4)] = 0.5; kept = |γ| > τ
    np.testing.assert_array_equal(channel_mask(g, 0.5), [False, False, False, True])
    np.testing.assert_array_equal(channel_mask(g, 0.3), [False, True, False, True])  # τ = 0.3


def test_mask_distance_matrix_equals_pairwise_hamming():
    masks = _stabilising_masks(6, 3, size=37)
    expected = np.array([[hamming(a, b) for b in masks] for a in masks])
    np.testing.assert_allclose(mask_distance_matrix(masks), expected)


def test_mask_detector_known_epoch():
    masks = _stabilising_masks(20, stable_from=8, flips=5)  # flips keep distances ≤ 10/200 = 0.05
    assert detect_mask_eb(masks) == 12  # FIFO of 5 full of stable masks first at 8 + 4
    assert detect_mask_eb(masks, window=3) == 10
    assert detect_mask_eb(_stabilising_masks(20, stable_from=30)) is None


def test_mask_detector_threshold_is_inclusive():
    a = np.zeros(10, bool)
    b = a.copy()
    b[0] = True  # distance exactly 0.1
    assert detect_mask_eb(np.stack([a, b, a, b, a]), window=5, threshold=0.1) == 4
    c = b.copy()
    c[1] = True  # distance 0.2 to a
    assert detect_mask_eb(np.stack([a, a, a, c, a]), window=5, threshold=0.1) is None


@pytest.mark.parametrize("size", [1, 8, 13, 1000])
def test_packbits_hamming_equals_boolean(size):
    rng = np.random.default_rng(size)
    a, b = rng.random(size) < 0.5, rng.random(size) < 0.3
    pa, n = pack_pattern(a)
    pb, _ = pack_pattern(b)
    assert n == size
    assert packed_hamming(pa, pb, n) == pytest.approx(np.mean(a != b), abs=1e-15)


def _records(patterns_per_epoch):
    return [PatternRecord(*map(list, zip(*(pack_pattern(p) for p in layers)))) for layers in patterns_per_epoch]


def test_spline_distance_and_detector_known_epoch():
    rng = np.random.default_rng(1)
    base = [rng.random((64, 5)) < 0.5, rng.random((64, 3, 2, 2)) < 0.5]
    epochs = []
    for t in range(15):
        epochs.append([rng.random(b.shape) < 0.5 for b in base] if t < 6 else [b.copy() for b in base])
    records = _records(epochs)
    d = spline_distance_matrix(records)
    expected = np.array([[np.mean([np.mean(x != y) for x, y in zip(ea, eb)]) for eb in epochs] for ea in epochs])
    np.testing.assert_allclose(d, expected, atol=1e-12)
    assert detect_spline_eb(d, lookback=3, threshold=0.16) == 9  # stable from 6, three stable predecessors
    assert detect_spline_eb(d[:8, :8]) is None


def _bn_mlp() -> nn.Module:
    torch.manual_seed(0)
    return build_model("mlp", (1, 4, 4), 3, hidden=(8, 6), batch_norm=True)


def test_record_patterns_equals_manual_bn_outputs():
    model = _bn_mlp()
    with torch.no_grad():
        for _, bn in bn_layers(model):
            bn.running_mean.normal_()
            bn.bias.normal_()
    x = torch.randn(10, 1, 4, 4)
    record = record_patterns(model, x)
    model.eval()
    net = model.net
    with torch.no_grad():
        h1 = net[2](net[1](net[0](x)))
        h2 = net[5](net[4](net[3](h1)))
    assert record.bits == [80, 60]
    assert packed_hamming(record.packed[0], np.packbits((h1 > 0).numpy().reshape(-1)), 80) == 0
    assert packed_hamming(record.packed[1], np.packbits((h2 > 0).numpy().reshape(-1)), 60) == 0


def test_recorder_matches_pure_detectors():
    model = _bn_mlp()
    recorder = EarlyBirdRecorder(torch.randn(16, 1, 4, 4), ratios=(0.5,), window=3)
    rng = np.random.default_rng(2)
    fixed = rng.random(14) + 0.1
    sequence = [rng.random(14) + 0.1 for _ in range(4)] + [fixed] * 5
    for epoch, g in enumerate(sequence):
        with torch.no_grad():
            model.net[2].weight.copy_(torch.from_numpy(g[:8]))
            model.net[5].weight.copy_(torch.from_numpy(g[8:]))
        recorder(epoch, model)
    expected = detect_mask_eb(np.stack([channel_mask(g, 0.5) for g in sequence]), window=3)
    assert recorder.detections.get("mask_p0.5") == expected
    assert expected is not None and expected <= 6
    assert "mask_p0.5" in recorder.states


def test_l1_penalty_gradient_is_sign():
    model = _bn_mlp()
    with torch.no_grad():
        model.net[2].weight[0] = -2.0
    l1_bn_penalty(1e-4)(model).backward()
    grad = model.net[2].weight.grad
    assert grad[0].item() == pytest.approx(-1e-4) and grad[1].item() == pytest.approx(1e-4)


def test_prune_channels_zeroes_and_stays_zero():
    model = _bn_mlp()
    with torch.no_grad():
        model.net[2].weight.copy_(torch.arange(1, 9, dtype=torch.float32))
        model.net[5].weight.copy_(torch.arange(1, 7, dtype=torch.float32) + 0.5)
    masks, handles = prune_channels(model, 0.5)  # 14 channels, τ = sorted[7] → keeps |γ| > 4.5
    assert set(masks) == {"net.1", "net.4"}
    kept_first = (model.net[2].weight != 0).tolist()
    assert kept_first == [False] * 4 + [True] * 4
    assert masks["net.1"][:4].sum() == 0 and masks["net.1"][4:].all()
    optimiser = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    model.train()
    for _ in range(3):
        optimiser.zero_grad()
        model(torch.randn(16, 1, 4, 4)).sum().backward()
        optimiser.step()
    assert torch.all(model.net[2].weight[:4] == 0) and torch.all(model.net[2].bias[:4] == 0)
    assert torch.all(model.net[1].bias[:4] == 0)
    for h in handles:
        h.remove()


# ------------------------------------------------------------------------------------------- spline pruner

def _spline_ctx(model, sparsity, batches, options=None):
    from sparsetopo.pruning import PruneContext

    return PruneContext(model=model, sparsity=sparsity, seed=0, input_shape=(1, 1, 4), num_classes=2,
                        options=dict(options or {}), batches=batches)


def _toy_net():
    """4 inputs -> 6 hidden (Linear, BN) -> 2 outputs: units 0 and 1 are duplicates, units 2 and 3 are close,
    unit 4 is isolated, unit 5 is always on over the data."""
    torch.manual_seed(0)
    model = build_model("mlp", (1, 1, 4), 2, hidden=(6,), batch_norm=True)
    lin, bn = model.net[1], model.net[2]
    with torch.no_grad():
        w = torch.tensor([[1.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0],
                          [0.0, 0.9, 0.1, 0.0], [0.0, 0.0, 0.0, 1.0], [0.3, 0.3, 0.3, 0.3]])
        lin.weight.copy_(w)
        lin.bias.zero_()
        bn.running_mean.zero_()
        bn.running_var.fill_(1.0)
        bn.weight.fill_(1.0)
        bn.bias.zero_()
        bn.bias[5] = 100.0  # always on over the data
    return model


def _probe_batches():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(64, 1, 1, 4, generator=g)
    y = torch.randint(0, 2, (64,), generator=g)
    return lambda: iter([(x, y)])


@pytest.mark.parametrize("scope", ["layerwise", "global"])
@pytest.mark.parametrize("variant", ["hyperplane", "hamming"])
def test_spline_pruner_registered_and_exact(scope, variant):
    import sparsetopo.pruning.spline  # noqa: F401
    from sparsetopo.pruning import run_pruner

    model = _toy_net()
    ctx = _spline_ctx(model, 0.5, _probe_batches(), {"scope": scope, "variant": variant})
    masks = run_pruner("spline", ctx)
    assert sum(int(m.sum()) for m in masks.values()) == ctx.keep


def test_greedy_order_recomputes():
    from sparsetopo.pruning.spline import greedy_order

    # units 0,1,2 mutually close (0.1), unit 3 far; constant unit 4 first, then the close group one by one
    d = np.full((5, 5), 5.0)
    d[:3, :3] = 0.1
    d[0, 1] = d[1, 0] = 0.05
    np.fill_diagonal(d, 0.0)
    order, redundancy = greedy_order(d, np.array([False, False, False, False, True]))
    # 4 (constant), then 0 (tie with 1 broken by index), then 1 whose nearest is now 2 at 0.1, then 2 (tie with
    # 3 at distance 5 broken by index); the last unit (3) is never removed
    assert order == [4, 0, 1, 2]
    assert redundancy == pytest.approx([0.0, 0.05, 0.1, 5.0])


@pytest.mark.parametrize("variant", ["hyperplane", "hamming"])
def test_spline_unit_order(variant):
    from sparsetopo.pruning.spline import unit_removal_order

    order = unit_removal_order(_toy_net(), _probe_batches(), {"variant": variant, "scope": "layerwise"})
    first_layer = [u for layer, u in order if layer == "net.1"]
    assert first_layer[0] == 5  # the constant-code unit goes first
    assert first_layer[1] in (0, 1)  # then one of the duplicate pair ...
    assert first_layer[2] in (2, 3)  # ... but not the other one: after recomputation it is no longer redundant
    assert len(first_layer) == 5 and 4 not in first_layer[:3]


def test_spline_pruner_prunes_redundant_unit_weights_first():
    import sparsetopo.pruning.spline  # noqa: F401
    from sparsetopo.pruning import run_pruner

    model = _toy_net()
    # 6x4 + 2x6 = 36 weights; keep 28 -> the 8 weights to go are unit 5's and one duplicate's rows/columns
    # (min(in, out) scores), 4 in + 2 out for unit 5 = 6, then 2 more from the duplicate
    masks = run_pruner("spline", _spline_ctx(model, 1 - 28 / 36, _probe_batches()))
    first = masks["net.1"]
    assert not first[5].any() and not masks["net.4"][:, 5].any()
    assert first[2:5].all()
    assert int(first[0].sum() + first[1].sum()) == 6


def test_options_come_from_the_validated_config(study_config):
    from sparsetopo.earlybird import EARLYBIRD_OPTIONS, earlybird_options

    opts = study_config["earlybird"]
    assert set(EARLYBIRD_OPTIONS) <= set(opts)  # every option the experiment reads has a default in the schema
    # the released detector settings (You et al.): FIFO 5 within 0.1; spline lookback 3 below 0.16
    assert (opts["window"], opts["mask_threshold"], opts["lookback"], opts["spline_threshold"]) == (5, 0.1, 3, 0.16)
    assert earlybird_options(opts) == {k: opts[k] for k in EARLYBIRD_OPTIONS} and "enabled" in opts
    with pytest.raises(KeyError, match=r"\['l1'\] are missing"):
        earlybird_options({k: v for k, v in opts.items() if k != "l1"})


def test_record_roundtrip_table_and_figure_bytes(tmp_path):
    from sparsetopo.earlybird import EarlyBirdRecorder, detections_from_matrices, distance_matrices
    from sparsetopo.earlybird.figures import plot_distance_matrices
    from sparsetopo.earlybird.records import load_record, matrices_frame, save_record

    rng = np.random.default_rng(3)
    recorder = EarlyBirdRecorder(torch.zeros(1))
    recorder.gammas = [rng.random(20) for _ in range(7)]
    recorder.patterns = _records([[rng.random((16, 5)) < 0.5, rng.random((16, 3)) < 0.5] for _ in range(7)])
    save_record(tmp_path / "record.npz", recorder)
    gammas, patterns = load_record(tmp_path / "record.npz")
    np.testing.assert_array_equal(gammas, np.stack(recorder.gammas))
    assert [p.bits for p in patterns] == [p.bits for p in recorder.patterns] == [[80, 48]] * 7
    matrices = distance_matrices(gammas, patterns, (0.3, 0.5))
    np.testing.assert_allclose(matrices["spline"], spline_distance_matrix(recorder.patterns))
    assert list(matrices) == ["mask_p0.3", "mask_p0.5", "spline"]
    frame = matrices_frame(matrices)
    assert frame.height == 3 * 7 * 7
    assert frame.filter((frame["signal"] == "spline") & (frame["epoch_i"] == 2) & (frame["epoch_j"] == 5))[
        "distance"].item() == pytest.approx(matrices["spline"][2, 5])
    detections = detections_from_matrices(matrices, gammas, {"window": 3, "mask_threshold": 1.0, "lookback": 2,
                                                             "spline_threshold": 1.0})
    assert detections == {"mask_p0.3": 2, "mask_p0.5": 2, "spline": 2}  # any mask is within 1.0 of any other
    for run in ("a", "b"):
        written = plot_distance_matrices(matrices, detections, tmp_path / run / "eb.png")
        assert [p.name for p in written] == ["eb.png", "eb.pdf"]
    for name in ("eb.png", "eb.pdf"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
