# Early-bird tickets (You et al. 2020) and the spline early-bird signal (You et al. 2022): train a BN model on
# embedded data, record |γ| and BN sign patterns per epoch, plot the epoch x epoch distances with the detected
# epochs, and retrain each ticket from its own weights. Options: config section `earlybird` (defaults in
# src/sparsetopo/schemas/config.schema.yaml). Needs RESULTS and LOGS from common.smk.
EARLYBIRD = config["earlybird"]
EARLYBIRD_OUT = f"{RESULTS}/earlybird"
EARLYBIRD_LOGS = f"{LOGS}/earlybird"
EARLYBIRD_BENCHMARKS = f"{LOGS}/benchmarks/earlybird"
EARLYBIRD_OPTIONS = {k: v for k, v in EARLYBIRD.items() if k != "enabled"}  # sparsetopo.earlybird.EARLYBIRD_OPTIONS


# Target files of the early-bird experiment (study_targets() in common.smk calls earlybird_targets()).
EARLYBIRD_TARGETS = (
    expand(
        f"{EARLYBIRD_OUT}/{{name}}",
        name=[
            "earlybird_distances.png",
            "earlybird_distances.pdf",
            "distances.parquet",
            "tickets.parquet",
            "tickets.csv",
            "tickets.md",
        ],
    )
    if EARLYBIRD["enabled"]
    else []
)


rule earlybird_dataset:
    output:
        f"{EARLYBIRD_OUT}/data.npz",
    log:
        f"{EARLYBIRD_LOGS}/dataset.log",
    benchmark:
        f"{EARLYBIRD_BENCHMARKS}/dataset.tsv"
    conda:
        CONDA_ENV
    params:
        code=code("earlybird"),
        dataset=EARLYBIRD["dataset"],
        options={"image_size": EARLYBIRD["image_size"]},
    script:
        "../scripts/earlybird_dataset.py"


rule earlybird_search:
    input:
        data=f"{EARLYBIRD_OUT}/data.npz",
    output:
        record=f"{EARLYBIRD_OUT}/record.npz",
        tickets=f"{EARLYBIRD_OUT}/tickets.pt",
        summary=f"{EARLYBIRD_OUT}/search.json",
    log:
        f"{EARLYBIRD_LOGS}/search.log",
    benchmark:
        f"{EARLYBIRD_BENCHMARKS}/search.tsv"
    conda:
        CONDA_ENV
    threads: 1
    params:
        code=code("earlybird"),
        options=EARLYBIRD_OPTIONS,
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
    log:
        f"{EARLYBIRD_LOGS}/retrain.log",
    benchmark:
        f"{EARLYBIRD_BENCHMARKS}/retrain.tsv"
    conda:
        CONDA_ENV
    threads: 1
    params:
        code=code("earlybird"),
        options=EARLYBIRD_OPTIONS,
    script:
        "../scripts/earlybird_retrain.py"


rule earlybird_figure:
    input:
        record=f"{EARLYBIRD_OUT}/record.npz",
    output:
        distances=f"{EARLYBIRD_OUT}/distances.parquet",
        png=report(
            f"{EARLYBIRD_OUT}/earlybird_distances.png",
            caption="../report/earlybird_distances.rst",
            category="Early-bird tickets",
        ),
        pdf=f"{EARLYBIRD_OUT}/earlybird_distances.pdf",
    log:
        f"{EARLYBIRD_LOGS}/figure.log",
    benchmark:
        f"{EARLYBIRD_BENCHMARKS}/figure.tsv"
    conda:
        CONDA_ENV
    params:
        code=code("earlybird"),
        options=EARLYBIRD_OPTIONS,
    script:
        "../scripts/earlybird_figure.py"
