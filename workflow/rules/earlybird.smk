# Early-bird tickets (You et al. 2020) and the spline early-bird signal (You et al. 2022): train a BN model on
# embedded data, record |γ| and BN sign patterns per epoch, plot the epoch x epoch distances with the detected
# epochs, and retrain each ticket from its own weights. Needs RESULTS and config from common.smk.


rule earlybird_dataset:
    output:
        f"{EARLYBIRD_OUT}/data.npz",
    params:
        dataset=EARLYBIRD["dataset"],
        options={"image_size": EARLYBIRD["image_size"]},
    log:
        f"{EARLYBIRD_LOGS}/dataset.log",
    conda:
        CONDA_ENV
    script:
        "../scripts/earlybird_dataset.py"


rule earlybird_search:
    input:
        data=f"{EARLYBIRD_OUT}/data.npz",
    output:
        record=f"{EARLYBIRD_OUT}/record.npz",
        tickets=f"{EARLYBIRD_OUT}/tickets.pt",
        summary=f"{EARLYBIRD_OUT}/search.json",
    params:
        options=EARLYBIRD_OPTIONS,
    threads: 1
    log:
        f"{EARLYBIRD_LOGS}/search.log",
    benchmark:
        f"{EARLYBIRD_LOGS}/search.benchmark.tsv"
    conda:
        CONDA_ENV
    script:
        "../scripts/earlybird_search.py"


rule earlybird_retrain:
    input:
        data=f"{EARLYBIRD_OUT}/data.npz",
        tickets=f"{EARLYBIRD_OUT}/tickets.pt",
        summary=f"{EARLYBIRD_OUT}/search.json",
    output:
        table=f"{EARLYBIRD_OUT}/tickets.parquet",
        csv=f"{EARLYBIRD_OUT}/tickets.csv",
        md=f"{EARLYBIRD_OUT}/tickets.md",
    params:
        options=EARLYBIRD_OPTIONS,
    threads: 1
    log:
        f"{EARLYBIRD_LOGS}/retrain.log",
    benchmark:
        f"{EARLYBIRD_LOGS}/retrain.benchmark.tsv"
    conda:
        CONDA_ENV
    script:
        "../scripts/earlybird_retrain.py"


rule earlybird_figure:
    input:
        record=f"{EARLYBIRD_OUT}/record.npz",
    output:
        distances=f"{EARLYBIRD_OUT}/distances.parquet",
        png=report(f"{EARLYBIRD_OUT}/earlybird_distances.png", caption="../report/earlybird_distances.rst",
                   category="Early-bird tickets"),
        pdf=report(f"{EARLYBIRD_OUT}/earlybird_distances.pdf", caption="../report/earlybird_distances.rst",
                   category="Early-bird tickets"),
    params:
        options=EARLYBIRD_OPTIONS,
    log:
        f"{EARLYBIRD_LOGS}/figure.log",
    conda:
        CONDA_ENV
    script:
        "../scripts/earlybird_figure.py"
