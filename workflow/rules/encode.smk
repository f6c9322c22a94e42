# Encode: the multipartite encoding of the whole network and the per-layer bipartite encodings.


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
    conda:
        CONDA_ENV
    script:
        "../scripts/encode.py"
