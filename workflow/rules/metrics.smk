# Metrics: topometrics of the multipartite encoding (one row per run), layer-wise metrics of the
# bipartite encodings and Ramanujan metrics on the rolled one (one row per run and layer).


def graph_inputs(wildcards):
    return {e: f"{RESULTS}/runs/{RUN}/graph_{e}.npz".format(**wildcards) for e in config["encodings"]}


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
    script:
        "../scripts/metrics.py"
