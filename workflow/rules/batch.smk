# Runs in batches (config `runs_per_job` > 1): one job prunes, trains and measures several runs of one grid cell
# (dataset, model, pruner, sparsity; consecutive seeds), one after the other in one process, with exactly the
# outputs and provenance that their own train and metrics jobs would write (the same stage functions). It saves,
# per run, the process start-up of two jobs (~2-3 s of imports each) and Snakemake's own per-job work, which
# dominate studies of many small runs (config/topology-intervention.yaml). One rule per batch: its outputs are
# the files of its runs, so every downstream rule reads the per-run files as usual. A failed batch is rerun whole.
# The batches and their outputs: run_batches, batch_outputs, batch_label in common.smk (lint: no functions beside rules).


if BATCHED:
    for _index, _runs in enumerate(run_batches()):

        rule:
            name:
                f"runs_batch_{_index}"
            input:
                **data_inputs(SimpleNamespace(dataset=_runs[0].dataset)),
            output:
                **batch_outputs(_runs),
            log:
                f"{LOGS}/runs/{batch_label(_runs)}.log",
            benchmark:
                f"{LOGS}/benchmarks/runs/{batch_label(_runs)}.tsv"
            conda:
                CONDA_ENV
            threads: config["training"]["threads"]
            resources:
                mem_mb=8000,
                gpu=1 if TRAINING else 0,
            params:
                runs=[r.keys() for r in _runs],
                measured=[r.pruner != "dense" for r in _runs],
                config=[{stage: stage_config(config, stage, r) for stage in ("train", "metrics")} for r in _runs],
                training=TRAINING,
                trained_weights=config["encoding_options"]["weights"] == "trained",
                encodings=GRAPH_FILES,
                metrics=metric_names(),
                code=[code("train" if TRAINING else "prune", _runs[0].pruner), code("metrics")],
            script:
                "../scripts/runs_batch.py"
