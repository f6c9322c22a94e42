# NNSTD (Liu et al., ECML-PKDD 2020): topology-evolution heatmaps of the original study's shipped topologies and
# of the project's own SET chain, each with the random-null baseline. Needs RESULTS and config from common.smk.


rule nnstd_reference_epoch:
    input:
        topologies=NNSTD["reference_topologies"] or [],
    output:
        temp(f"{NNSTD_OUT}/reference/pairs_epoch{{epoch}}.parquet"),
    params:
        null_draws=NNSTD["null_draws"],
        null_seed=NNSTD["null_seed"],
    wildcard_constraints:
        epoch=r"\d+",
    threads: 1
    log:
        f"{NNSTD_LOGS}/reference_epoch{{epoch}}.log",
    benchmark:
        f"{NNSTD_LOGS}/reference_epoch{{epoch}}.benchmark.tsv"
    conda:
        CONDA_ENV
    script:
        "../scripts/nnstd_reference_pairs.py"


rule nnstd_reference_pairs:
    input:
        epochs=lambda wc: expand(f"{NNSTD_OUT}/reference/pairs_epoch{{epoch}}.parquet",
                                 epoch=nnstd_reference_epochs()),
    output:
        pairs=f"{NNSTD_OUT}/reference/pairs.parquet",
        csv=f"{NNSTD_OUT}/reference/pairs.csv",
    log:
        f"{NNSTD_LOGS}/reference_pairs.log",
    conda:
        CONDA_ENV
    script:
        "../scripts/nnstd_concat_pairs.py"


rule nnstd_reference_figure:
    input:
        pairs=f"{NNSTD_OUT}/reference/pairs.parquet",
    output:
        png=report(f"{NNSTD_OUT}/reference/nnstd_reference.png", caption="../report/nnstd_reference.rst",
                   category="Topology distance"),
        pdf=report(f"{NNSTD_OUT}/reference/nnstd_reference.pdf", caption="../report/nnstd_reference.rst",
                   category="Topology distance"),
    params:
        title="NNSTD of the original study's SET-MLPs (Liu et al. 2020, Fig. 4 data)",
    log:
        f"{NNSTD_LOGS}/reference_figure.log",
    conda:
        CONDA_ENV
    script:
        "../scripts/nnstd_heatmap.py"


rule nnstd_chain_dataset:
    output:
        f"{NNSTD_OUT}/chain/data.npz",
    params:
        dataset=NNSTD["dataset"],
        options={"image_size": NNSTD["image_size"]},
    log:
        f"{NNSTD_LOGS}/chain_dataset.log",
    conda:
        CONDA_ENV
    script:
        "../scripts/nnstd_chain_dataset.py"


rule nnstd_chain_init:
    output:
        f"{NNSTD_OUT}/chain/init_masks.npz",
    params:
        options=nnstd_chain_options(),
    log:
        f"{NNSTD_LOGS}/chain_init.log",
    conda:
        CONDA_ENV
    script:
        "../scripts/nnstd_chain_init.py"


rule nnstd_chain_train:
    input:
        data=f"{NNSTD_OUT}/chain/data.npz",
        init=f"{NNSTD_OUT}/chain/init_masks.npz",
    output:
        masks=f"{NNSTD_OUT}/chain/w{{network}}/masks_per_epoch.npz",
        summary=f"{NNSTD_OUT}/chain/w{{network}}/train.json",
    params:
        options=nnstd_chain_options(),
    wildcard_constraints:
        network=r"\d+",
    threads: 1
    log:
        f"{NNSTD_LOGS}/chain_train_w{{network}}.log",
    benchmark:
        f"{NNSTD_LOGS}/chain_train_w{{network}}.benchmark.tsv"
    conda:
        CONDA_ENV
    script:
        "../scripts/nnstd_chain_train.py"


rule nnstd_chain_pairs:
    input:
        masks=expand(f"{NNSTD_OUT}/chain/w{{network}}/masks_per_epoch.npz", network=range(NNSTD["networks"])),
        summaries=expand(f"{NNSTD_OUT}/chain/w{{network}}/train.json", network=range(NNSTD["networks"])),
    output:
        pairs=f"{NNSTD_OUT}/chain/pairs.parquet",
        csv=f"{NNSTD_OUT}/chain/pairs.csv",
        accuracy=f"{NNSTD_OUT}/chain/accuracy.csv",
    params:
        names=[f"w{k}" for k in range(NNSTD["networks"])],
        epochs=[e for e in NNSTD["snapshot_epochs"] if e <= NNSTD["epochs"]],
        null_draws=NNSTD["null_draws"],
        null_seed=NNSTD["null_seed"],
    log:
        f"{NNSTD_LOGS}/chain_pairs.log",
    benchmark:
        f"{NNSTD_LOGS}/chain_pairs.benchmark.tsv"
    conda:
        CONDA_ENV
    script:
        "../scripts/nnstd_chain_pairs.py"


rule nnstd_chain_figure:
    input:
        pairs=f"{NNSTD_OUT}/chain/pairs.parquet",
    output:
        png=report(f"{NNSTD_OUT}/chain/nnstd_chain.png", caption="../report/nnstd_chain.rst",
                   category="Topology distance"),
        pdf=report(f"{NNSTD_OUT}/chain/nnstd_chain.pdf", caption="../report/nnstd_chain.rst",
                   category="Topology distance"),
    params:
        title="NNSTD of the project's SET chain (1% perturbation steps)",
    log:
        f"{NNSTD_LOGS}/chain_figure.log",
    conda:
        CONDA_ENV
    script:
        "../scripts/nnstd_heatmap.py"
