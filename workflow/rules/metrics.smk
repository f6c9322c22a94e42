# Encode and measure one run, in one job: the per-layer bipartite encodings (graph_<encoding>.npz) and their metrics
# (layer-wise metrics, Ramanujan metrics on the rolled one: one row per run and layer), and the end-to-end
# topometrics of the multipartite encoding (one row per run), measured without a graph file: on the graph built in
# memory, or kept implicit above the measured crossover (sparsetopo.metrics.implicit; docs/metrics.md). The
# multipartite graph file is written (temporary unless encoding_options.keep_multipartite) only when it is kept or
# drawn. One job per run saves a process start-up; the stages stay separate functions (sparsetopo.stages.measure)
# and CLI commands.

WRITE_MULTIPARTITE = config["encoding_options"]["keep_multipartite"] or config["drawing"]["enabled"]
GRAPH_FILES = [e for e in config["encodings"] if e != "multipartite" or WRITE_MULTIPARTITE]


@functools.lru_cache(maxsize=None)
def graph_nodes(dataset, model):
    """Node count of the model's multipartite graph (traced, no edge built)."""
    from sparsetopo.encodings import node_count
    from sparsetopo.stages.common import build_initial_model

    net = build_initial_model(config, Run(dataset, model, "dense", 0.0, 0))
    return node_count(net, dataset_info(dataset, config["dataset_options"].get(dataset)).input_shape)


def metrics_mem_mb(wildcards, attempt=1):
    """Memory of a metrics job: that of the graph it builds (graph_mem_mb), or, when the multipartite graph stays
    implicit (no graph file written, edges above the crossover: sparsetopo.metrics.implicit.choose_method), that of
    its nodes (IMPLICIT_BYTES_PER_NODE, measured), doubled on retry."""
    from sparsetopo.metrics.implicit import IMPLICIT_BASE_MB, IMPLICIT_BYTES_PER_NODE, choose_method

    record = Path(f"{RESULTS}/runs/{RUN}/prune.json".format(**wildcards))
    edges = json.loads(record.read_text()).get("mge_edges") if record.exists() else None
    if edges is None:
        edges = dense_edges(wildcards.dataset, wildcards.model) * (1.0 - float(wildcards.sparsity))
    if WRITE_MULTIPARTITE or "multipartite" not in config["encodings"] or choose_method(edges) == "explicit":
        return graph_mem_mb(wildcards, attempt)
    nodes = graph_nodes(wildcards.dataset, wildcards.model)
    return int(IMPLICIT_BASE_MB + IMPLICIT_BYTES_PER_NODE * nodes / 1e6) * attempt


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
