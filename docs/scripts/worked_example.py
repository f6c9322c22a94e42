"""Worked examples of docs/encodings.md, computed by the library (nothing here is hand-written output).

Usage: .venv/bin/python docs/scripts/worked_example.py

Example 1: 1x3x3 input -> Conv2d(1, 2, kernel 2, stride 1, no padding, masked) -> flatten -> Linear(8, 2, masked).
Example 2: 1x4x4 input -> Conv2d(1, 1, kernel 3, stride 2, padding 1) with two kept taps.
Example 3: 1x4x4 input -> Conv2d(1, 1, kernel 1) -> MaxPool2d(2) -> flatten -> Linear(4, 1).
Residual blocks with an identity shortcut, with and without ``identity_shortcuts``; two cases where duplicate
(src, dst) pairs are merged (identity shortcut over a single conv; overlapping pooling windows).
Then the two bipartite encodings (rolled, rolled_channel) of example 1.
"""

from __future__ import annotations

import torch
from torch import nn

from sparsetopo.encodings import encode


def show(title: str, graphs) -> None:
    print(f"## {title}")
    for g in graphs:
        print(f"graph {g.name!r}: {g.num_nodes} nodes, {g.num_edges} edges, meta={g.meta}")
        for name, shape, lo, hi in zip(g.part_names, g.part_shapes, g.part_offsets[:-1], g.part_offsets[1:]):
            print(f"  part {name!r} shape {tuple(shape)}: nodes {lo}..{hi - 1}")
        order = sorted(range(g.num_edges), key=lambda k: (int(g.dst[k]), int(g.src[k])))
        for k in order:
            print(f"  {int(g.src[k]):3d} -> {int(g.dst[k]):3d}  weight {float(g.weight[k]):g}")
    print()


class Example1(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, kernel_size=2, stride=1, padding=0, bias=False)
        self.fc = nn.Linear(8, 2, bias=False)
        with torch.no_grad():
            # masked weights: zero = pruned
            self.conv.weight[:] = torch.tensor([[[[1.0, 0.0], [0.0, -2.0]]],     # filter 0: taps (0,0), (1,1)
                                                [[[0.0, 3.0], [0.0, 0.0]]]])     # filter 1: tap (0,1)
            self.fc.weight[:] = torch.tensor([[0.5, 0, 0, 0, 0, 0, 0, -1.5],      # class 0
                                              [0, 0, 0, 2.0, 4.0, 0, 0, 0]])      # class 1

    def forward(self, x):
        return self.fc(torch.flatten(torch.relu(self.conv(x)), 1))


class Example2(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 1, kernel_size=3, stride=2, padding=1, bias=False)
        with torch.no_grad():
            self.conv.weight.zero_()
            self.conv.weight[0, 0, 0, 0] = 1.0   # top-left tap
            self.conv.weight[0, 0, 1, 1] = 2.0   # centre tap

    def forward(self, x):
        return self.conv(x)


class Example3(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 1, kernel_size=1, bias=False)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(4, 1, bias=False)
        with torch.no_grad():
            self.conv.weight.fill_(1.0)
            self.fc.weight[:] = torch.tensor([[0.25, 0.0, 0.0, 0.75]])

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.conv(x)), 1))


class Residual(nn.Module):
    """A residual block on 1x2x2 maps: y = conv_a(x); out = conv_c(conv_b(y)) + y (identity shortcut from y)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv_a = nn.Conv2d(1, 1, kernel_size=1, bias=False)
        self.conv_b = nn.Conv2d(1, 1, kernel_size=1, bias=False)
        self.conv_c = nn.Conv2d(1, 1, kernel_size=1, bias=False)
        with torch.no_grad():
            self.conv_a.weight.fill_(2.0)
            self.conv_b.weight.fill_(3.0)
            self.conv_c.weight.fill_(5.0)

    def forward(self, x):
        y = self.conv_a(x)
        return self.conv_c(self.conv_b(y)) + y


class SamePair(nn.Module):
    """A block of a single conv with an identity shortcut: conv_b's edges and the identity edges join the
    same (src, dst) node pairs, so they are merged (weights summed)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv_a = nn.Conv2d(1, 1, kernel_size=1, bias=False)
        self.conv_b = nn.Conv2d(1, 1, kernel_size=1, bias=False)
        with torch.no_grad():
            self.conv_a.weight.fill_(2.0)
            self.conv_b.weight.fill_(3.0)

    def forward(self, x):
        y = self.conv_a(x)
        return self.conv_b(y) + y


class OverlappingPool(nn.Module):
    """1x3x3 input -> MaxPool2d(2, stride 1) (overlapping windows, 2x2 out) -> Conv2d(1, 1, kernel (1, 2))."""

    def __init__(self) -> None:
        super().__init__()
        self.pool = nn.MaxPool2d(2, stride=1)
        self.conv = nn.Conv2d(1, 1, kernel_size=(1, 2), bias=False)
        with torch.no_grad():
            self.conv.weight[:] = torch.tensor([[[[1.0, 10.0]]]])

    def forward(self, x):
        return self.conv(self.pool(x))


if __name__ == "__main__":
    m1 = Example1()
    show("Example 1: multipartite", encode(m1, (1, 3, 3), "multipartite"))
    show("Example 2: stride 2, padding 1", encode(Example2(), (1, 4, 4), "multipartite"))
    show("Example 3: max pooling before a Linear", encode(Example3(), (1, 4, 4), "multipartite"))
    show("Residual, identity shortcut not encoded (default)", encode(Residual(), (1, 2, 2), "multipartite"))
    show("Residual, identity_shortcuts=True", encode(Residual(), (1, 2, 2), "multipartite",
                                                      identity_shortcuts=True))
    show("Merged duplicates: identity shortcut over a single conv", encode(SamePair(), (1, 2, 2), "multipartite",
                                                                           identity_shortcuts=True))
    show("Merged duplicates: overlapping pooling windows", encode(OverlappingPool(), (1, 3, 3), "multipartite"))
    show("Example 1: rolled", encode(m1, (1, 3, 3), "rolled"))
    show("Example 1: rolled_channel", encode(m1, (1, 3, 3), "rolled_channel"))
    # metrics of example 1 (docs/metrics.md)
    import json

    from sparsetopo.metrics import layer_metrics, normalised, topometrics

    g = encode(m1, (1, 3, 3), "multipartite")[0]
    row = topometrics(g, seed=0, motifs4="exact")
    print("## Example 1: topometrics")
    print(json.dumps({**row, **normalised(row)}, indent=1))
    print("## Example 1: layer metrics (rolled)")
    for layer in encode(m1, (1, 3, 3), "rolled"):
        print(layer.name, json.dumps(layer_metrics(layer, seed=0, motifs4="exact")))
