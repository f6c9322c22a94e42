# Prune: seeded initial weights and one binary mask per prunable layer, with layer densities.


rule prune:
    input:
        unpack(data_inputs),
    output:
        pt=f"{RESULTS}/runs/{RUN}/prune.pt",
        json=f"{RESULTS}/runs/{RUN}/prune.json",
    log:
        f"{LOGS}/prune/{RUN}.log",
    benchmark:
        f"{LOGS}/benchmarks/prune/{RUN}.tsv"
    threads: config["training"]["threads"]
    resources:
        mem_mb=4000,
    conda:
        CONDA_ENV
    script:
        "../scripts/prune.py"
