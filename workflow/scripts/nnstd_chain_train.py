"""Snakemake script: train one network of the NNSTD chain with SET and record its masks after every epoch."""
import numpy as np
import torch

from sparsetopo.io import atomic_path, write_json
from sparsetopo.logs import log_to
from sparsetopo.nnstd.training import train_chain_network

with log_to(snakemake.log[0]):
    torch.set_num_threads(snakemake.threads)
    k = int(snakemake.wildcards.network)
    with np.load(snakemake.input.init) as data:
        layers = sorted((key for key in data.keys() if key.startswith(f"w{k}/")), key=lambda s: int(s.split("/l")[1]))
        topology = [data[key] for key in layers]
    history, result = train_chain_network(topology, snakemake.input.data, dict(snakemake.params.options))
    with atomic_path(snakemake.output.masks) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, **history)
    write_json(snakemake.output.summary, {"network": f"w{k}", "accuracy": result.accuracy,
                                          "test_loss": result.test_loss, "seconds": result.seconds,
                                          "epochs": result.epochs})
