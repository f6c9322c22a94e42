"""Snakemake script: early-bird search: train the dense BN model (L1 on γ), record |γ| and BN sign patterns every
epoch, detect tickets online, keep the ticket weights."""
import torch

from sparsetopo.earlybird.records import save_record
from sparsetopo.earlybird.training import search
from sparsetopo.io import save_torch, write_json
from sparsetopo.logs import log_to

with log_to(snakemake.log[0]):
    torch.set_num_threads(snakemake.threads)
    opts = dict(snakemake.params.options)
    recorder, result = search(snakemake.input.data, opts)
    save_record(snakemake.output.record, recorder)
    save_torch(snakemake.output.tickets, {"states": recorder.states, "detections": recorder.detections})
    write_json(snakemake.output.summary, {"accuracy": result.accuracy, "test_loss": result.test_loss,
                                          "seconds": result.seconds, "epochs": result.epochs,
                                          "detections": recorder.detections, "options": opts})
