"""Effects of three encoding choices on real MGEs (docs/deviations.md): zero-padding nodes in the input part
(original) vs none (sparsetopo), identity shortcuts encoded or not, and how many duplicate (src, dst) pairs are
merged for each architecture.

Usage: .venv/bin/python docs/scripts/encoding_choices.py [--sparsity 0.98] [--sizes-only]

--sizes-only prints the dense sizes only, also those of the torchvision models of config/imagenet-topology.yaml
(3x224x224 input, 1,000 classes; about 1 min).

Padding nodes: the original's first layer keeps the zero-padded 3x34x34 input as nodes, with edges from the
padding positions. That graph is produced here by the library itself: the same pruned model with its first
convolution switched to padding 0 and encoded for a 3x34x34 input (every later layer is unchanged).
All models: 3x32x32 input, 10 classes, Kaiming weights, uniform pruning, seed 0.
"""

from __future__ import annotations

import argparse
import copy

from _common import CIFAR, mge, pruned_model
from sparsetopo.encodings import dense_edge_count, node_count
from sparsetopo.metrics import normalised, topometrics
from sparsetopo.models import build_model, prunable_layers

IMAGENET = (3, 224, 224)

SHOWN = ("nodes", "edges", "source_nodes", "sink_nodes", "disconnected_nodes", "removable_in_edges",
         "removable_out_edges", "one_hop", "two_hop", "strength", "k_core", "cut_edges", "cut_nodes", "components",
         "spectral_gap", "spectral_radius")


def table(a: dict, b: dict, left: str, right: str, keys) -> None:
    print(f"| metric | {left} | {right} | relative change |")
    print("|---|---|---|---|")
    for k in keys:
        rel = (b[k] - a[k]) / abs(a[k]) if a[k] else float("nan")
        print(f"| {k} | {a[k]:.6g} | {b[k]:.6g} | {rel:+.3g} |")


def with_padding_nodes(model):
    m = copy.deepcopy(model)
    name, first = prunable_layers(m)[0]
    p = first.padding
    first.padding = (0, 0)
    return mge(m, (3, 32 + 2 * p[0], 32 + 2 * p[1])), name


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sparsity", type=float, default=0.98)
    ap.add_argument("--sizes-only", action="store_true", help="dense sizes only, ImageNet-size models included")
    args = ap.parse_args()
    s = args.sparsity

    print("## Dense sizes (3x32x32, 10 classes)")
    for name in ("conv6", "resnet20", "resnet32", "wrn28_2", "mobilenetv2"):
        model = build_model(name, CIFAR, 10)
        print(f"{name}: nodes {node_count(model, CIFAR)}, dense edges {dense_edge_count(model, CIFAR)}, "
              f"with identity shortcuts {dense_edge_count(model, CIFAR, identity_shortcuts=True)}")
    if args.sizes_only:
        print("\n## Dense sizes (3x224x224, 1000 classes)")
        for name in ("resnet18", "resnet50", "mobilenet_v2"):
            model = build_model(name, IMAGENET, 1000)
            print(f"{name}: nodes {node_count(model, IMAGENET)}, dense edges {dense_edge_count(model, IMAGENET)}, "
                  f"with identity shortcuts {dense_edge_count(model, IMAGENET, identity_shortcuts=True)}")
        return

    for name in ("conv6", "resnet20"):
        model = pruned_model(name, s)
        exact = mge(model)
        padded, first = with_padding_nodes(model)
        print(f"\n## Padding nodes, {name} uniform {s} (first layer {first}): "
              f"{padded.num_nodes - exact.num_nodes} extra nodes, {padded.num_edges - exact.num_edges} extra edges")
        a, b = topometrics(exact, seed=0), topometrics(padded, seed=0)
        a.update(normalised(a))
        b.update(normalised(b))
        table(a, b, "no padding nodes (sparsetopo)", "padding nodes (original)",
              SHOWN + ("source_nodes_norm", "sink_nodes_norm", "one_hop_norm", "strength_norm"))

    model = pruned_model("resnet20", s)
    plain, ident = mge(model), mge(model, identity_shortcuts=True)
    print(f"\n## Identity shortcuts, resnet20 uniform {s}: +{ident.num_edges - plain.num_edges} edges")
    table(topometrics(plain, seed=0), topometrics(ident, seed=0), "not encoded (default)", "encoded", SHOWN)

    print(f"\n## Merged duplicate (src, dst) pairs, uniform {s}")
    for name in ("conv6", "resnet20", "resnet32", "wrn28_2", "mobilenetv2"):
        model = pruned_model(name, s)
        print(f"{name}: {mge(model).meta['merged_duplicates']} (identity shortcuts encoded: "
              f"{mge(model, identity_shortcuts=True).meta['merged_duplicates']})")


if __name__ == "__main__":
    main()
