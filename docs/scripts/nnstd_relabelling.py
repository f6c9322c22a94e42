"""NNSTD between a network of the original study and a copy of itself whose hidden neurons are relabelled
(docs/deviations.md): the quirk of fan-in-only matching, kept on purpose.

Usage: .venv/bin/python docs/scripts/nnstd_relabelling.py TOPO_DIR [--seeds 3]
(TOPO_DIR = the `topo` folder of github.com/Shiweiliuiiiiiii/Sparse_Topology_Distance, commit ef8bf14.)

A consistent permutation of each hidden layer's neurons (rows of the next layer permuted the same way) leaves the
network unchanged; NNSTD would be 0 under a perfect matching. The values printed are the per-layer distances of
sparsetopo.nnstd.nnstd, and the random-null baseline of the same densities.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from sparsetopo.nnstd import load_topology, nnstd, random_null, topology_summary


def relabel(layers, rng):
    out, perm_prev = [], None
    for k, m in enumerate(layers):
        m = m if perm_prev is None else m[perm_prev]
        if k < len(layers) - 1:  # hidden neurons only; class outputs keep their labels
            perm = rng.permutation(m.shape[1])
            m = m[:, perm]
            perm_prev = perm
        out.append(m)
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("topo", help="the topo folder of the original study (folders e5_s0_w0 ... inside)")
    p.add_argument("--seeds", type=int, default=3)
    args = p.parse_args()
    for epoch in (0, 190):
        a = load_topology(Path(args.topo) / "e5_s0_w0" / f"epoch_{epoch:03d}")
        shapes, dens = topology_summary(a)
        null = random_null(shapes, dens, seed=0, draws=3)
        for seed in range(args.seeds):
            res = nnstd(a, relabel(a, np.random.default_rng(seed)))
            print(f"epoch {epoch}, relabelling seed {seed}: layers {[round(v, 4) for v in res.layers]}, "
                  f"mean {res.mean:.4f}")
        print(f"epoch {epoch}: random null per layer {[round(v, 4) for v in null.layers]}, mean {null.mean:.4f}")
        empty = [int((m.sum(axis=0) == 0).sum()) for m in a]
        print(f"epoch {epoch}: neurons with an empty fan-in per layer {empty}")


if __name__ == "__main__":
    main()
