# Encode and measure one run, in one job: the multipartite encoding of the whole network and the per-layer
# bipartite encodings (graph_<encoding>.npz; the large multipartite file is temporary unless
# encoding_options.keep_multipartite), then their metrics: topometrics of the multipartite encoding (one row
# per run), layer-wise metrics of the bipartite encodings and Ramanujan metrics on the rolled one (one row per
# run and layer). Encoding takes well under a second, so one job saves a process start-up per run; the stages
# stay separate functions (sparsetopo.stages.measure.encode_run / measure_run) and CLI commands.
# With runs_per_job > 1 the batches of batch.smk measure the runs instead.


if not BATCHED:

    rule metrics:
        input:
            weights=weights_input,
            train=run_record(f"{RESULTS}/runs/{RUN}"),
        output:
            **{f"graph_{encoding}": graph_output(encoding) for encoding in config["encodings"]},
            **{name: f"{RESULTS}/runs/{RUN}/metrics_{name}.parquet" for name in metric_names()},
            provenance=f"{RESULTS}/runs/{RUN}/metrics.json",
        log:
            f"{LOGS}/metrics/{RUN}.log",
        benchmark:
            f"{LOGS}/benchmarks/metrics/{RUN}.tsv"
        conda:
            CONDA_ENV
        threads: config["training"]["threads"]  # torch and the metric kernels use training.threads
        resources:
            mem_mb=graph_mem_mb,
        params:
            encodings=config["encodings"],
            metrics=metric_names(),
            config=run_config("metrics"),
            code=code("metrics"),
        script:
            "../scripts/metrics.py"
