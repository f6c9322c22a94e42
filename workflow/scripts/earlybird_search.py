"""Early-bird search: train the dense BN model (L1 on γ), record |γ| and BN sign patterns every epoch, detect
tickets online, keep the ticket weights."""

import logging

import torch

from sparsetopo.earlybird import save_record, search
from sparsetopo.io import save_torch, write_json

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
torch.set_num_threads(snakemake.threads)
opts = dict(snakemake.params.options)
recorder, result = search(snakemake.input.data, opts)
save_record(snakemake.output.record, recorder)
save_torch(snakemake.output.tickets, {"states": recorder.states, "detections": recorder.detections})
write_json(snakemake.output.summary, {"accuracy": result.accuracy, "test_loss": result.test_loss,
                                      "seconds": result.seconds, "epochs": result.epochs,
                                      "detections": recorder.detections, "options": opts})
