# Encode and measure one run, in one job: the per-layer bipartite encodings (graph_<encoding>.npz) and their metrics
# (layer-wise metrics, Ramanujan metrics on the rolled one: one row per run and layer), and the end-to-end
# topometrics of the multipartite encoding (one row per run), measured without a graph file: on the graph built in
# memory, or kept implicit above the measured crossover (sparsetopo.metrics.implicit; docs/metrics.md). The
# multipartite graph file is written (temporary unless encoding_options.keep_multipartite) only when it is kept or
# drawn. One job per run saves a process start-up; the stages stay separate functions (sparsetopo.stages.measure)
# and CLI commands. With runs_per_job > 1 the batches of batch.smk measure the runs instead.

GRAPH_FILES = [e for e in config["encodings"] if e != "multipartite" or WRITE_MULTIPARTITE]


if not BATCHED:

    rule metrics:
        input:
            weights=weights_input,
            train=run_record(f"{RESULTS}/runs/{RUN}"),
        output:
            **{f"graph_{encoding}": graph_output(encoding) for encoding in GRAPH_FILES},
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
            mem_mb=metrics_mem_mb,
        params:
            encodings=GRAPH_FILES,
            metrics=metric_names(),
            config=run_config("metrics"),
            code=code("metrics"),
        script:
            "../scripts/metrics.py"
