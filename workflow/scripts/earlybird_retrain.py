"""Snakemake script: retrain every early-bird ticket from its own weights (channel-pruned, remaining schedule) and
compare with the full training."""
import logging

import polars as pl
import torch

from sparsetopo.earlybird.training import retrain_ticket
from sparsetopo.io import load_torch, read_json, write_table
from sparsetopo.logs import log_to

with log_to(snakemake.log[0]):
    torch.set_num_threads(snakemake.threads)
    opts = dict(snakemake.params.options)
    tickets = load_torch(snakemake.input.tickets)
    summary = read_json(snakemake.input.summary)
    rows = []
    for signal, epoch in sorted(tickets["detections"].items(), key=lambda kv: kv[1]):
        ratio = float(signal[len("mask_p"):]) if signal.startswith("mask_p") else float(opts["ticket_ratio"])
        out = retrain_ticket(snakemake.input.data, opts, tickets["states"][signal], int(epoch), ratio)
        rows.append({"signal": signal, "ticket_epoch": int(epoch), "pruning_ratio": ratio,
                     "full_accuracy": float(summary["accuracy"]), **out,
                     "accuracy_drop": float(summary["accuracy"]) - out["accuracy"],
                     "search_fraction": int(epoch) / int(opts["epochs"])})
        logging.getLogger("sparsetopo.earlybird").info("%s", rows[-1])
    write_table(pl.DataFrame(rows), snakemake.output.table[: -len(".parquet")], formats=("parquet", "csv", "md"))
