# Train: masked weights stay exactly zero; dynamic sparse training records its masks every epoch.


rule train:
    input:
        unpack(data_inputs),
        prune=f"{RESULTS}/runs/{RUN}/prune.pt",
    output:
        pt=f"{RESULTS}/runs/{RUN}/train.pt",
        json=f"{RESULTS}/runs/{RUN}/train.json",
        masks=f"{RESULTS}/runs/{RUN}/masks_per_epoch.npz",
    log:
        f"{LOGS}/train/{RUN}.log",
    benchmark:
        f"{LOGS}/benchmarks/train/{RUN}.tsv"
    threads: config["training"]["threads"]
    resources:
        mem_mb=8000,
        gpu=1,
    conda:
        CONDA_ENV
    script:
        "../scripts/train.py"
