"""Tests of the graph encodings: the vectorised multipartite encoding against an explicit loop
enumeration, against the Jacobian of a linearised network, published node/edge counts, and the
bipartite (rolled, rolled_channel) encodings against hand-written edge lists."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sparsetopo.encodings import (
    ENCODERS, EncodingError, dense_edge_count, edge_count, encode, multipartite, node_count, rolled, rolled_channel,
)
from sparsetopo.models import MODELS, build_model, prunable_layers

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")


def _mask_weights(model: nn.Module, density: float, seed: int) -> None:
    """Random Gaussian weights with random exact zeros (fixed seed)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, m in prunable_layers(model):
            w = torch.randn(m.weight.shape, generator=gen)
            keep = torch.rand(m.weight.shape, generator=gen) < density
            m.weight.copy_(w * keep)


# ------------------------------------------------------------------------------------------------
# explicit, loop-based reference encoding
class Ref:
    """Edges as a dict (src, dst) -> summed |w|; ``raw`` counts the edges before merging."""

    def __init__(self) -> None:
        self.edges: dict[tuple[int, int], float] = {}
        self.raw = 0

    def add(self, s: int, d: int, w: float) -> None:
        self.edges[(s, d)] = self.edges.get((s, d), 0.0) + float(w)
        self.raw += 1


def pool_window(pool, y, x):
    """Pre-pool positions of pooled position (y, x). pool = ("k", k, s, p, d, H, W) or ("a", H, W, Ho, Wo)."""
    if pool[0] == "k":
        _, k, s, p, d, h, w = pool
        out = []
        for ty in range(k):
            for tx in range(k):
                py, px = y * s - p + ty * d, x * s - p + tx * d
                if 0 <= py < h and 0 <= px < w:
                    out.append((py, px))
        return out
    _, h, w, ho, wo = pool
    ys = range((y * h) // ho, -((-(y + 1) * h) // ho))
    xs = range((x * w) // wo, -((-(x + 1) * w) // wo))
    return [(py, px) for py in ys for px in xs]


def expand(pools, y, x):
    """Multiset of positions of the part behind ``pools`` (applied in order) for a pooled position."""
    pts = [(y, x)]
    for pool in reversed(pools):
        pts = [q for (py, px) in pts for q in pool_window(pool, py, px)]
    return pts


def ref_conv(ref, conv, in_off, in_shape, pooled_hw, out_off, out_shape, pools=()):
    w = conv.weight.detach().numpy()
    co, cig, kh, kw = w.shape
    c_in, h, wd = in_shape
    hl, wl = pooled_hw
    _, ho, wo = out_shape
    (sy, sx), (dy, dx), g = conv.stride, conv.dilation, conv.groups
    if conv.padding == "same":  # PyTorch pads total // 2 before
        py_, px_ = dy * (kh - 1) // 2, dx * (kw - 1) // 2
    else:
        py_, px_ = conv.padding
    for o in range(co):
        for oy in range(ho):
            for ox in range(wo):
                for il in range(cig):
                    i = (o // (co // g)) * cig + il
                    for ky in range(kh):
                        for kx in range(kw):
                            if w[o, il, ky, kx] == 0:
                                continue
                            iy, ix = oy * sy - py_ + ky * dy, ox * sx - px_ + kx * dx
                            if not (0 <= iy < hl and 0 <= ix < wl):
                                continue
                            for py, px in expand(pools, iy, ix):
                                ref.add(in_off + i * h * wd + py * wd + px, out_off + o * ho * wo + oy * wo + ox,
                                        abs(w[o, il, ky, kx]))


def ref_linear(ref, lin, in_off, in_shape, pooled_chw, out_off, pools=()):
    w = lin.weight.detach().numpy()
    for g in range(w.shape[0]):
        for f in range(w.shape[1]):
            if w[g, f] == 0:
                continue
            if pooled_chw is None:
                ref.add(in_off + f, out_off + g, abs(w[g, f]))
                continue
            c, hl, wl = pooled_chw
            ch, r = divmod(f, hl * wl)
            y, x = divmod(r, wl)
            _, h, wd = in_shape
            for py, px in expand(pools, y, x):
                ref.add(in_off + ch * h * wd + py * wd + px, out_off + g, abs(w[g, f]))


def ref_identity(ref, in_off, in_shape, pooled_chw, out_off, pools=()):
    c, hl, wl = pooled_chw
    _, h, wd = in_shape
    for ch in range(c):
        for y in range(hl):
            for x in range(wl):
                for py, px in expand(pools, y, x):
                    ref.add(in_off + ch * h * wd + py * wd + px, out_off + ch * hl * wl + y * wl + x, 1.0)


def offsets(shapes):
    return np.concatenate([[0], np.cumsum([int(np.prod(s)) for s in shapes])])


def assert_same_edges(g, ref: Ref):
    assert g.num_edges == len(ref.edges)
    assert g.meta["merged_duplicates"] == ref.raw - len(ref.edges)
    got = {(int(s), int(d)): float(w) for s, d, w in zip(g.src, g.dst, g.weight)}
    assert len(got) == g.num_edges, "duplicate (src, dst) pairs in the graph"
    assert set(got) == set(ref.edges)
    keys = sorted(ref.edges)
    np.testing.assert_allclose([got[k] for k in keys], [ref.edges[k] for k in keys], rtol=1e-6)
    assert g.weight.dtype == np.float32 and (g.weight > 0).all()


# ------------------------------------------------------------------------------------------------
# test networks
class NetA(nn.Module):
    """Plain CNN: padding 1/2/0, dilation 2, stride 2, groups 2, depthwise, overlapping max pool
    (module), functional avg pool, BN, ReLU, Dropout, view-flatten, Linear."""

    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(3, 4, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(4)
        self.c2 = nn.Conv2d(4, 4, 3, stride=2, padding=2, dilation=2, groups=2, bias=False)
        self.pool = nn.MaxPool2d(2, stride=1)
        self.c3 = nn.Conv2d(4, 6, 2)
        self.dw = nn.Conv2d(6, 6, 3, padding=1, groups=6)
        self.drop = nn.Dropout(0.5)
        self.fc = nn.Linear(24, 5)

    def forward(self, x):
        x = F.relu(self.bn1(self.c1(x)))  # 4x9x9
        x = self.pool(self.c2(x))  # 4x5x5 -> 4x4x4
        x = self.dw(F.relu(self.c3(x)))  # 6x3x3
        x = self.drop(F.avg_pool2d(x, 2, stride=1))  # 6x2x2
        return self.fc(x.view(x.size(0), -1))


def ref_net_a(m: NetA, identity: bool) -> tuple[Ref, list, list]:
    names = ["input", "c1", "c2", "c3", "dw", "fc"]
    shapes = [(3, 9, 9), (4, 9, 9), (4, 5, 5), (6, 3, 3), (6, 3, 3), (5,)]
    off = offsets(shapes)
    r = Ref()
    ref_conv(r, m.c1, off[0], shapes[0], (9, 9), off[1], shapes[1])
    ref_conv(r, m.c2, off[1], shapes[1], (9, 9), off[2], shapes[2])
    ref_conv(r, m.c3, off[2], shapes[2], (4, 4), off[3], shapes[3], pools=[("k", 2, 1, 0, 1, 5, 5)])
    ref_conv(r, m.dw, off[3], shapes[3], (3, 3), off[4], shapes[4])
    ref_linear(r, m.fc, off[4], shapes[4], (6, 2, 2), off[5], pools=[("k", 2, 1, 0, 1, 3, 3)])
    return r, names, shapes


class Block(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        return F.relu(self.conv2(F.relu(self.bn1(self.conv1(x)))) + self.shortcut(x))


class NetB(nn.Module):
    """Residual CNN: functional max pool with padding (overlapping) before an identity block, a
    strided block with a 1x1 conv shortcut, adaptive avg pool (overlapping) composed with a functional
    max pool, global average pooling via x.shape, torch.flatten, Linear."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(2, 4, 3, padding=1, bias=False)
        self.b1 = Block(4, 4, 1)
        self.b2 = Block(4, 6, 2)
        self.apool = nn.AdaptiveAvgPool2d(3)
        self.c5 = nn.Conv2d(6, 5, 1)
        self.fc = nn.Linear(5, 3)

    def forward(self, x):
        x = F.max_pool2d(self.stem(x), 3, 2, 1)  # 4x8x8 -> 4x4x4
        x = self.b2(self.b1(x))  # 6x2x2
        x = F.max_pool2d(self.apool(x), 2, stride=1)  # 6x3x3 -> 6x2x2
        x = self.c5(x)
        x = F.avg_pool2d(x, x.shape[-2:])
        return self.fc(torch.flatten(x, 1))


def ref_net_b(m: NetB, identity: bool) -> tuple[Ref, list, list]:
    names = ["input", "stem", "b1.conv1", "b1.conv2", "b2.conv1", "b2.conv2", "c5", "fc"]
    shapes = [(2, 8, 8), (4, 8, 8), (4, 4, 4), (4, 4, 4), (6, 2, 2), (6, 2, 2), (5, 2, 2), (3,)]
    off = offsets(shapes)
    r = Ref()
    mp = [("k", 3, 2, 1, 1, 8, 8)]
    ref_conv(r, m.stem, off[0], shapes[0], (8, 8), off[1], shapes[1])
    ref_conv(r, m.b1.conv1, off[1], shapes[1], (4, 4), off[2], shapes[2], pools=mp)
    ref_conv(r, m.b1.conv2, off[2], shapes[2], (4, 4), off[3], shapes[3])
    if identity:
        ref_identity(r, off[1], shapes[1], (4, 4, 4), off[3], pools=mp)
    ref_conv(r, m.b2.conv1, off[3], shapes[3], (4, 4), off[4], shapes[4])
    ref_conv(r, m.b2.conv2, off[4], shapes[4], (2, 2), off[5], shapes[5])
    ref_conv(r, m.b2.shortcut[0], off[3], shapes[3], (4, 4), off[5], shapes[5])
    ref_conv(r, m.c5, off[5], shapes[5], (2, 2), off[6], shapes[6],
             pools=[("a", 2, 2, 3, 3), ("k", 2, 1, 0, 1, 3, 3)])
    ref_linear(r, m.fc, off[6], shapes[6], (5, 1, 1), off[7], pools=[("k", 2, 2, 0, 1, 2, 2)])
    return r, names, shapes


class NetC(nn.Module):
    """Two parallel fresh convs from the same part added (duplicate pairs merged), then nn.Flatten +
    Linear + ReLU + Linear (MLP-like head, no pooling)."""

    def __init__(self) -> None:
        super().__init__()
        self.c0 = nn.Conv2d(1, 3, 3, padding=1, bias=False)
        self.ca = nn.Conv2d(3, 2, 3, padding=1, bias=False)
        self.cb = nn.Conv2d(3, 2, 1, bias=False)
        self.flat = nn.Flatten()
        self.fc1 = nn.Linear(2 * 5 * 5, 7)
        self.fc2 = nn.Linear(7, 4)

    def forward(self, x):
        x = self.c0(x)
        x = self.ca(x) + self.cb(x)
        return self.fc2(torch.relu(self.fc1(self.flat(x))))


def ref_net_c(m: NetC, identity: bool) -> tuple[Ref, list, list]:
    names = ["input", "c0", "ca", "fc1", "fc2"]
    shapes = [(1, 5, 5), (3, 5, 5), (2, 5, 5), (7,), (4,)]
    off = offsets(shapes)
    r = Ref()
    ref_conv(r, m.c0, off[0], shapes[0], (5, 5), off[1], shapes[1])
    ref_conv(r, m.ca, off[1], shapes[1], (5, 5), off[2], shapes[2])
    ref_conv(r, m.cb, off[1], shapes[1], (5, 5), off[2], shapes[2])
    ref_linear(r, m.fc1, off[2], shapes[2], None, off[3])
    ref_linear(r, m.fc2, off[3], shapes[3], None, off[4])
    return r, names, shapes


class NetD(nn.Module):
    """Non-square kernels, strides, paddings and dilations; padding="same" with an even kernel."""

    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(2, 3, (2, 3), stride=(2, 1), padding=(1, 0), bias=False)
        self.c2 = nn.Conv2d(3, 4, (3, 2), padding="same", dilation=(2, 1), bias=False)
        self.c3 = nn.Conv2d(4, 2, 3, stride=(1, 3), padding=(2, 1), dilation=(2, 1), bias=False)

    def forward(self, x):
        return self.c3(self.c2(self.c1(x)))


def ref_net_d(m: NetD, identity: bool) -> tuple[Ref, list, list]:
    names = ["input", "c1", "c2", "c3"]
    shapes = [(2, 5, 6), (3, 3, 4), (4, 3, 4), (2, 3, 2)]
    off = offsets(shapes)
    r = Ref()
    ref_conv(r, m.c1, off[0], shapes[0], (5, 6), off[1], shapes[1])
    ref_conv(r, m.c2, off[1], shapes[1], (3, 4), off[2], shapes[2])
    ref_conv(r, m.c3, off[2], shapes[2], (3, 4), off[3], shapes[3])
    return r, names, shapes


CASES = [(NetA, (3, 9, 9), ref_net_a), (NetB, (2, 8, 8), ref_net_b), (NetC, (1, 5, 5), ref_net_c),
         (NetD, (2, 5, 6), ref_net_d)]


@pytest.mark.parametrize("identity", [False, True])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0].__name__)
def test_multipartite_matches_loop_enumeration(case, identity):
    cls, shape, ref_fn = case
    torch.manual_seed(0)
    model = cls()
    _mask_weights(model, 0.6, seed=1)
    model.train()
    g = multipartite(model, shape, identity_shortcuts=identity)
    assert model.training  # modes restored
    ref, names, shapes = ref_fn(model, identity)
    assert g.part_names == names
    assert [tuple(s) for s in g.part_shapes] == shapes
    np.testing.assert_array_equal(g.part_offsets, offsets(shapes))
    assert_same_edges(g, ref)
    assert edge_count(model, shape, identity_shortcuts=identity) == ref.raw  # counted without building edges
    # the dense count equals the enumeration with every weight nonzero
    with torch.no_grad():
        for _, m in prunable_layers(model):
            m.weight.fill_(1.0)
    dense_ref, _, _ = ref_fn(model, identity)
    assert dense_edge_count(model, shape, identity_shortcuts=identity) == dense_ref.raw
    assert_same_edges(multipartite(model, shape, identity_shortcuts=identity), dense_ref)
    assert node_count(model, shape) == int(offsets(shapes)[-1])


def test_duplicates_are_merged():
    torch.manual_seed(0)
    model = NetC()
    _mask_weights(model, 1.0, seed=2)
    g = multipartite(model, (1, 5, 5))
    # ca's centre tap and cb land on the same (src, dst) pairs: 3 x 2 x 25 merges
    assert g.meta["merged_duplicates"] == 3 * 2 * 25


# ------------------------------------------------------------------------------------------------
# Jacobian of the linearised network == sum over graph paths of weight products
class NetJ(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(2, 4, 3, padding=1, bias=False)
        self.dil = nn.Conv2d(4, 4, 3, padding=2, dilation=2, groups=2, bias=False)
        self.i1 = nn.Conv2d(4, 4, 3, padding=1, bias=False)
        self.i2 = nn.Conv2d(4, 4, 3, padding=1, groups=4, bias=False)  # depthwise
        self.r1 = nn.Conv2d(4, 6, 3, stride=2, padding=1, bias=False)
        self.r2 = nn.Conv2d(6, 6, 3, padding=1, bias=False)
        self.sc = nn.Conv2d(4, 6, 1, stride=2, bias=False)
        self.s2 = nn.Conv2d(6, 3, 2, stride=2, bias=False)
        self.same = nn.Conv2d(3, 3, 2, padding="same", bias=False)  # asymmetric implicit padding
        self.pad2 = nn.Conv2d(3, 3, 3, stride=2, padding=2, bias=False)
        self.fc = nn.Linear(3 * 2 * 2, 5, bias=False)

    def forward(self, x):
        x = self.dil(self.stem(x))  # 4x8x8
        x = self.i2(self.i1(x)) + x  # identity shortcut
        x = self.r2(self.r1(x)) + self.sc(x)  # 6x4x4, 1x1 stride-2 conv shortcut
        x = self.pad2(self.same(self.s2(x)))  # 3x2x2 -> 3x2x2 -> 3x2x2
        return self.fc(torch.flatten(x, 1))


def test_jacobian_equals_path_sums():
    torch.manual_seed(0)
    model = NetJ()
    _mask_weights(model, 0.7, seed=3)
    with torch.no_grad():
        for _, m in prunable_layers(model):
            m.weight.abs_()
    g = multipartite(model, (2, 8, 8), identity_shortcuts=True)
    assert g.part_names == ["input", "stem", "dil", "i1", "i2", "r1", "r2", "s2", "same", "pad2", "fc"]
    x = torch.randn(1, 2, 8, 8, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(model.double(), x).reshape(5, -1).numpy()
    a = g.to_scipy(dtype=np.float64).tocsr()
    n_in = g.part_sizes[0]
    out = slice(g.part_offsets[-2], g.part_offsets[-1])
    cur = a[:n_in]
    total = np.zeros((n_in, g.part_sizes[-1]))
    for _ in range(len(g.part_names)):
        total += cur[:, out].toarray()
        cur = cur @ a
        if cur.nnz == 0:
            break
    assert cur.nnz == 0
    assert np.abs(jac).max() > 0
    np.testing.assert_allclose(total.T, jac, rtol=1e-9, atol=1e-12)


# ------------------------------------------------------------------------------------------------
# published sizes
NODES = {"conv6": (232_970, 233_060, 233_160), "resnet20": (191_498, 191_588, 191_688),
         "resnet32": (306_186, 306_276, 306_376), "wrn28_2": (478_218, 478_308, 478_408)}


@pytest.mark.parametrize("name", sorted(NODES))
def test_node_counts(name):
    for classes, expected in zip((10, 100, 200), NODES[name]):
        model = MODELS.get(name)((3, 32, 32), classes)  # weights are irrelevant: skip initialisation
        assert node_count(model, (3, 32, 32)) == expected


def test_conv6_dense_edge_count():
    assert dense_edge_count(build_model("conv6", (3, 32, 32), 10), (3, 32, 32)) == 241_315_072


def test_sparse_resnet20_graph():
    model = build_model("resnet20", (3, 32, 32), 10)
    _mask_weights(model, 0.01, seed=4)
    g = multipartite(model, (3, 32, 32))
    assert g.num_nodes == 191_498
    assert g.part_names[:4] == ["input", "conv1", "layer1.0.conv1", "layer1.0.conv2"]
    assert "layer2.0.shortcut.0" not in g.part_names and g.part_names[-1] == "linear"
    assert g.part_shapes[-1] == (10,) and g.part_shapes[0] == (3, 32, 32)
    assert g.meta["merged_duplicates"] == 0
    assert g.meta["layer_parts"]["layer2.0.shortcut.0"] == ["layer1.2.conv2", "layer2.0.conv2"]
    # each classifier weight becomes 8x8 edges (global average pooling)
    lin = model.linear.weight
    n_lin = int(((g.dst >= g.part_offsets[-2])).sum())
    assert n_lin == int((lin != 0).sum()) * 64
    # sparse edges never exceed the dense count
    assert g.num_edges < dense_edge_count(model, (3, 32, 32))


def test_mobilenetv2_builds():
    model = build_model("mobilenetv2", (3, 32, 32), 10)
    _mask_weights(model, 0.02, seed=5)
    g = multipartite(model, (3, 32, 32))
    assert g.num_nodes == node_count(model, (3, 32, 32)) == 1_675_786
    assert g.part_names[-1] == "linear" and g.meta["merged_duplicates"] == 0


# ------------------------------------------------------------------------------------------------
# bipartite encodings
def _edges(g):
    return sorted((int(s), int(d), round(float(w), 6)) for s, d, w in zip(g.src, g.dst, g.weight))


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 2, bias=False)
        self.grouped = nn.Conv2d(4, 4, 1, groups=2, bias=False)
        self.dw = nn.Conv2d(3, 3, 2, groups=3, bias=False)
        self.fc = nn.Linear(2, 2, bias=False)


def _tiny() -> Tiny:
    m = Tiny()
    with torch.no_grad():
        w = torch.zeros(3, 2, 2, 2)
        w[0, 0, 0, 0], w[0, 1, 1, 1], w[2, 0, 0, 1], w[2, 0, 1, 0] = 1, -2, 3, -4
        m.conv.weight.copy_(w)
        w = torch.zeros(4, 2, 1, 1)
        w[0, 1], w[3, 0], w[2, 1] = 2, -3, 0.5
        m.grouped.weight.copy_(w)
        w = torch.zeros(3, 1, 2, 2)
        w[0, 0, 0, 0], w[0, 0, 1, 1], w[2, 0, 1, 0] = 3, 4, -1
        m.dw.weight.copy_(w)
        m.fc.weight.copy_(torch.tensor([[0.0, -1.5], [2.0, 0.0]]))
    return m


def test_rolled_hand_written():
    gs = rolled(_tiny())
    assert [g.name for g in gs] == ["conv", "grouped", "dw", "fc"]
    conv, grouped, dw, fc = gs
    assert conv.part_names == ["conv.in", "conv.out"] and list(conv.part_offsets) == [0, 8, 11]
    assert _edges(conv) == [(0, 8, 1.0), (1, 10, 3.0), (2, 10, 4.0), (7, 8, 2.0)]
    assert conv.meta == {"density": 4 / 24, "layer_index": 0, "params": 24, "shape": [3, 2, 2, 2]}
    assert list(grouped.part_offsets) == [0, 2, 6]
    assert _edges(grouped) == [(0, 5, 3.0), (1, 2, 2.0), (1, 4, 0.5)]
    assert list(dw.part_offsets) == [0, 4, 7]
    assert _edges(dw) == [(0, 4, 3.0), (2, 6, 1.0), (3, 4, 4.0)]
    assert _edges(fc) == [(0, 3, 2.0), (1, 2, 1.5)] and fc.meta["layer_index"] == 3


def test_rolled_channel_hand_written():
    conv, grouped, dw, fc = rolled_channel(_tiny())
    assert conv.part_names == ["conv.in", "conv.out"] and list(conv.part_offsets) == [0, 2, 5]
    assert _edges(conv) == [(0, 2, 1.0), (0, 4, 5.0), (1, 2, 2.0)]
    assert conv.meta["density"] == 4 / 24 and conv.meta["shape"] == [3, 2, 2, 2]
    assert list(grouped.part_offsets) == [0, 4, 8]
    assert _edges(grouped) == [(1, 4, 2.0), (2, 7, 3.0), (3, 6, 0.5)]
    assert _edges(dw) == [(0, 3, 5.0), (2, 5, 1.0)]
    assert _edges(fc) == [(0, 3, 2.0), (1, 2, 1.5)]


def test_encode_dispatch():
    assert ENCODERS.names() == ["multipartite", "rolled", "rolled_channel"]
    m = _tiny()
    assert [g.name for g in encode(m, (2, 3, 3), "rolled")] == ["conv", "grouped", "dw", "fc"]
    model = NetC()
    (g,) = encode(model, (1, 5, 5), "multipartite")
    assert g.name == "network"
    with pytest.raises(KeyError, match="known encodings: multipartite, rolled, rolled_channel"):
        encode(m, (2, 3, 3), "unrolled")


# ------------------------------------------------------------------------------------------------
# unsupported operations
class CatNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(1, 2, 1)
        self.b = nn.Conv2d(1, 2, 1)

    def forward(self, x):
        return torch.cat([self.a(x), self.b(x)], dim=1)


class UpNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(1, 2, 1)

    def forward(self, x):
        return F.interpolate(self.a(x), scale_factor=2.0)


class CustomNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(1, 2, 1)
        self.norm = nn.GroupNorm(1, 2)

    def forward(self, x):
        return self.norm(self.a(x))


class Scale(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.s = nn.Parameter(torch.ones(2, 1, 1))

    def forward(self, x):
        return x * self.s


class ParamNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(1, 2, 1)
        self.scale = Scale()

    def forward(self, x):
        return self.scale(self.a(x))


@pytest.mark.parametrize("cls,what", [(CatNet, r"function cat at node 'cat'"),
                                      (ParamNet, r"direct use of a parameter/buffer \(scale\.s\) at node"),
                                      (UpNet, r"function interpolate at node 'interpolate'"),
                                      (CustomNet, r"module GroupNorm at module 'norm'")])
def test_unsupported_operation_raises(cls, what):
    with pytest.raises(EncodingError, match=r"unsupported operation " + what):
        multipartite(cls(), (1, 4, 4))


# ------------------------------------------------------------------------------------------------
# equivalent spellings of pooling give identical graphs
class PoolNet(nn.Module):
    def __init__(self, variant: str) -> None:
        super().__init__()
        self.variant = variant
        self.c1 = nn.Conv2d(2, 3, 3, padding=1, bias=False)
        self.mp = nn.MaxPool2d(2)
        self.c2 = nn.Conv2d(3, 4, 1, bias=False)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.avg = nn.AvgPool2d(3)
        self.fc = nn.Linear(4, 3, bias=False)

    def forward(self, x):
        x = self.c1(x)  # 3x6x6
        x = self.mp(x) if self.variant in ("module", "mean") else F.max_pool2d(x, 2)
        x = self.c2(x)  # 4x3x3
        if self.variant == "module":
            x = torch.flatten(self.gap(x), 1)
        elif self.variant == "mean":
            x = x.mean((2, 3))
        elif self.variant == "avg":
            x = self.avg(x).flatten(1)
        elif self.variant == "adaptive":
            x = F.adaptive_avg_pool2d(x, 1).reshape(x.size(0), -1)
        else:
            x = torch.flatten(F.avg_pool2d(x, x.shape[-2:]), 1)
        return self.fc(x)


def test_pooling_spellings_agree():
    graphs = []
    for variant in ("module", "mean", "avg", "adaptive", "shape"):
        torch.manual_seed(0)
        model = PoolNet(variant)
        _mask_weights(model, 0.7, seed=6)
        graphs.append(multipartite(model, (2, 6, 6)))
    ref = Ref()
    m = model
    ref_conv(ref, m.c1, 0, (2, 6, 6), (6, 6), 72, (3, 6, 6))
    ref_conv(ref, m.c2, 72, (3, 6, 6), (3, 3), 180, (4, 3, 3), pools=[("k", 2, 2, 0, 1, 6, 6)])
    ref_linear(ref, m.fc, 180, (4, 3, 3), (4, 1, 1), 216, pools=[("a", 3, 3, 1, 1)])
    for g in graphs:
        assert g.part_names == ["input", "c1", "c2", "fc"]
        assert_same_edges(g, ref)


def test_torchvision_resnet18_builds():
    torchvision = pytest.importorskip("torchvision")
    model = torchvision.models.resnet18(num_classes=10)
    _mask_weights(model, 0.001, seed=7)
    with torch.no_grad():
        model.layer1[0].conv1.weight[0, 0] = 1.0  # one dense kernel after the overlapping max pool
    g = multipartite(model, (3, 32, 32))
    # stem 64x16x16, 4 stages of 4 convs (64x8x8, 128x4x4, 256x2x2, 512x1x1), fc 10
    assert g.num_nodes == 3 * 1024 + 64 * 256 + 4 * (64 * 64 + 128 * 16 + 256 * 4 + 512) + 10
    assert "layer2.0.downsample.0" not in g.part_names and g.part_names[-1] == "fc"
    assert g.meta["merged_duplicates"] > 0  # overlapping 3x3 stride-2 max pool after the stem


def test_graph_file_encodings_are_the_registered_encoders():
    from sparsetopo.graph import ENCODINGS

    assert sorted(ENCODINGS) == ENCODERS.names()
