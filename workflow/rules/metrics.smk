# Metrics: topometrics of the multipartite encoding (one row per run), layer-wise metrics of the
# bipartite encodings and Ramanujan metrics on the rolled one (one row per run and layer).




rule metrics:
    input:
        unpack(graph_inputs),
    output:
        **{name: f"{RESULTS}/runs/{RUN}/metrics_{name}.parquet" for name in metric_names()},
    log:
        f"{LOGS}/metrics/{RUN}.log",
    benchmark:
        f"{LOGS}/benchmarks/metrics/{RUN}.tsv"
    threads: 1
    resources:
        mem_mb=graph_mem_mb,
    conda:
        CONDA_ENV
    script:
        "../scripts/metrics.py"
