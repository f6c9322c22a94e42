# Encode: the multipartite encoding of the whole network and the per-layer bipartite encodings.
import functools


@functools.lru_cache(maxsize=None)
def dense_edges(dataset, model):
    """MGE edge count of the dense model (analytic, no graph built)."""
    from sparsetopo.encodings import dense_edge_count
    from sparsetopo.pipeline import build_initial_model

    net = build_initial_model(config, Run(dataset, model, "dense", 0.0, 0))
    info = dataset_info(dataset, config["dataset_options"].get(dataset))
    return dense_edge_count(net, info.input_shape)


def graph_mem_mb(wildcards, attempt=1):
    """Memory for graph jobs: ~40 bytes per expected edge (plus 1 GB of interpreter), doubled on retry."""
    edges = dense_edges(wildcards.dataset, wildcards.model) * (1.0 - float(wildcards.sparsity))
    return int(1000 + 40 * edges / 1e6) * attempt


def weights_input(wildcards):
    stage = "train" if config["encoding_options"]["weights"] == "trained" else "prune"
    return f"{RESULTS}/runs/{RUN}/{stage}.pt".format(**wildcards)


def graph_output(encoding):
    path = f"{RESULTS}/runs/{RUN}/graph_{encoding}.npz"
    if encoding == "multipartite" and not config["encoding_options"]["keep_multipartite"]:
        return temp(path)
    return path


rule encode:
    input:
        weights=weights_input,
        train=f"{RESULTS}/runs/{RUN}/train.json",
    output:
        **{encoding: graph_output(encoding) for encoding in config["encodings"]},
    params:
        encodings=config["encodings"],
    log:
        f"{LOGS}/encode/{RUN}.log",
    benchmark:
        f"{LOGS}/benchmarks/encode/{RUN}.tsv"
    threads: 1
    resources:
        mem_mb=graph_mem_mb,
    script:
        "../scripts/encode.py"
