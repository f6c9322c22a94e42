"""Snakemake script: initial topologies of the NNSTD chain (w0 = ER, w_k = w_{k-1} with 1% of the edges moved,
count kept), one npz with keys w{k}/l{layer}, masks shaped (fan_in, fan_out)."""
import logging

import numpy as np

from sparsetopo.data import dataset_info
from sparsetopo.io import atomic_path
from sparsetopo.logs import log_to
from sparsetopo.nnstd.chain import chain_topologies, mlp_shapes

with log_to(snakemake.log[0]):
    opts = dict(snakemake.params.options)
    info = dataset_info(opts["dataset"], {"image_size": int(opts["image_size"])})
    shapes = mlp_shapes(info.input_shape, opts["hidden"], info.num_classes)
    chain = chain_topologies(shapes, opts)
    with atomic_path(snakemake.output[0]) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, **{f"w{k}/l{i}": m for k, topo in enumerate(chain) for i, m in enumerate(topo)})
    logging.getLogger("sparsetopo.nnstd").info("shapes %s, edges %s", shapes, [int(m.sum()) for m in chain[0]])
