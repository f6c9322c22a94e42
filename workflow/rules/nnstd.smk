# NNSTD (Liu et al., ECML-PKDD 2020): topology-distance heatmaps of the original study's shipped topologies
# (downloaded at a pinned commit, or a local copy) and of the project's own SET chain, each with the random-null
# baseline; and NNSTD between the final masks of different seeds of the study's runs (nnstd.runs).
# Options: config section `nnstd` (defaults in src/sparsetopo/schemas/config.schema.yaml). Needs RESULTS, LOGS,
# sparse_runs() and run_dir() from common.smk.
from sparsetopo.nnstd.chain import chain_options
from sparsetopo.nnstd.reference import available_epochs, status_inputs

NNSTD = config["nnstd"]
NNSTD_OUT = f"{RESULTS}/nnstd"
NNSTD_REF = f"{NNSTD_OUT}/reference"
NNSTD_LOGS = f"{LOGS}/nnstd"
NNSTD_BENCHMARKS = f"{LOGS}/benchmarks/nnstd"
NNSTD_REFERENCE_LOCAL = NNSTD["reference_topologies"]  # null: download the pinned copy into NNSTD_REF/topo
NNSTD_REFERENCE_FOLDER = NNSTD_REFERENCE_LOCAL or f"{NNSTD_REF}/topo"
NNSTD_REFERENCE_ON = NNSTD["enabled"] and NNSTD["reference"]
NNSTD_RUNS_ON = NNSTD["enabled"] and NNSTD["runs"]
NNSTD_REFERENCE_FIGURE = {
    "pairs": f"{NNSTD_REF}/pairs.parquet",
    "png": f"{NNSTD_REF}/nnstd_reference.png",
    "pdf": f"{NNSTD_REF}/nnstd_reference.pdf",
}

# Target files of the NNSTD part of the study (study_targets() in common.smk calls nnstd_targets()).
NNSTD_TARGETS = []
if NNSTD["enabled"] and NNSTD["reference"]:
    NNSTD_TARGETS.append(f"{NNSTD_REF}/status.html")  # pulls in the figure, or the skip note when offline
if NNSTD["enabled"] and NNSTD["chain"]:
    NNSTD_TARGETS += expand(
        f"{NNSTD_OUT}/chain/{{name}}", name=["pairs.parquet", "accuracy.csv", "nnstd_chain.png", "nnstd_chain.pdf"]
    )
if NNSTD_RUNS_ON:
    NNSTD_TARGETS += expand(
        f"{NNSTD_OUT}/runs/{{name}}",
        name=["pairs.parquet", "pairs.csv", "layers.parquet", "nnstd_runs.png", "nnstd_runs.pdf"],
    )

if NNSTD_REFERENCE_ON:
    # Snapshot epochs of the reference figure: nnstd.reference_epochs, else every epoch of the local copy or of
    # the pinned release (the configuration was validated: the folder exists and holds the chosen epochs).
    NNSTD_REFERENCE_EPOCHS = [int(e) for e in NNSTD["reference_epochs"] or available_epochs(NNSTD_REFERENCE_LOCAL)]

    # The download is tried once: after an offline attempt the study is complete (the figure skipped, the note
    # written) and stays up to date. Retry on request: snakemake --forcerun nnstd_reference_fetch (or delete
    # fetch.json); SKIPPED.md and the report say so.

    # what the reference pairs read: the local copy, or the fetch status of the downloaded copy
    NNSTD_REFERENCE_SOURCE = (
        {"topologies": NNSTD_REFERENCE_LOCAL} if NNSTD_REFERENCE_LOCAL else {"status": f"{NNSTD_REF}/fetch.json"}
    )


# ---- the original study's topologies (Fig. 4 of Liu et al.)
if NNSTD_REFERENCE_ON:

    localrules:
        nnstd_reference_status,

    if not NNSTD_REFERENCE_LOCAL:

        localrules:
            nnstd_reference_fetch,
            nnstd_reference_skipped,

        # Never fails for lack of network: the status says whether the pinned copy is complete in
        # NNSTD_REF/topo (every file sha256-checked); nnstd_reference_status then asks for the figure or the note.
        checkpoint nnstd_reference_fetch:
            output:
                status=f"{NNSTD_REF}/fetch.json",
            log:
                f"{NNSTD_LOGS}/reference_fetch.log",
            benchmark:
                f"{NNSTD_BENCHMARKS}/reference_fetch.tsv"
            conda:
                CONDA_ENV
            params:
                code=code("nnstd"),
                folder=f"{NNSTD_REF}/topo",
                epochs=NNSTD_REFERENCE_EPOCHS,
                skip_note=f"{NNSTD_REF}/SKIPPED.md",
            script:
                "../scripts/nnstd_reference_fetch.py"

        rule nnstd_reference_skipped:
            input:
                status=f"{NNSTD_REF}/fetch.json",
            output:
                f"{NNSTD_REF}/SKIPPED.md",
            log:
                f"{NNSTD_LOGS}/reference_skipped.log",
            conda:
                CONDA_ENV
            params:
                code=code("nnstd"),
                figure=NNSTD_REFERENCE_FIGURE["png"],
            script:
                "../scripts/nnstd_reference_skipped.py"

    rule nnstd_reference_epoch:
        input:
            **NNSTD_REFERENCE_SOURCE,
        output:
            temp(f"{NNSTD_REF}/pairs_epoch{{epoch}}.parquet"),
        log:
            f"{NNSTD_LOGS}/reference_epoch{{epoch}}.log",
        benchmark:
            f"{NNSTD_BENCHMARKS}/reference_epoch{{epoch}}.tsv"
        wildcard_constraints:
            epoch=r"\d+",
        conda:
            CONDA_ENV
        threads: 1
        params:
            code=code("nnstd"),
            folder=NNSTD_REFERENCE_FOLDER,
            null_draws=NNSTD["null_draws"],
            null_seed=NNSTD["null_seed"],
        script:
            "../scripts/nnstd_reference_pairs.py"

    rule nnstd_reference_pairs:
        input:
            epochs=expand(f"{NNSTD_REF}/pairs_epoch{{epoch}}.parquet", epoch=NNSTD_REFERENCE_EPOCHS),
        output:
            pairs=f"{NNSTD_REF}/pairs.parquet",
            csv=f"{NNSTD_REF}/pairs.csv",
        log:
            f"{NNSTD_LOGS}/reference_pairs.log",
        conda:
            CONDA_ENV
        params:
            code=code("nnstd"),
        script:
            "../scripts/nnstd_concat_pairs.py"

    rule nnstd_reference_figure:
        input:
            pairs=f"{NNSTD_REF}/pairs.parquet",
        output:
            png=report(
                f"{NNSTD_REF}/nnstd_reference.png",
                caption="../report/nnstd_reference.rst",
                category="Topology distance",
            ),
            pdf=f"{NNSTD_REF}/nnstd_reference.pdf",
        log:
            f"{NNSTD_LOGS}/reference_figure.log",
        benchmark:
            f"{NNSTD_BENCHMARKS}/reference_figure.tsv"
        conda:
            CONDA_ENV
        params:
            code=code("nnstd"),
            title="NNSTD of the original study's SET-MLPs (Liu et al. 2020, Fig. 4 data)",
        script:
            "../scripts/nnstd_heatmap.py"

    rule nnstd_reference_status:
        input:
            # the figure and its table when the topologies are there; the skip note when the download failed
            unpack(
                lambda wildcards: (
                    NNSTD_REFERENCE_FIGURE
                    if NNSTD_REFERENCE_LOCAL
                    else status_inputs(
                        checkpoints.nnstd_reference_fetch.get().output.status,
                        NNSTD_REFERENCE_FIGURE,
                        f"{NNSTD_REF}/SKIPPED.md",
                    )
                )
            ),
        output:
            report(
                f"{NNSTD_REF}/status.html",
                caption="../report/nnstd_reference_status.rst",
                category="Topology distance",
            ),
        log:
            f"{NNSTD_LOGS}/reference_status.log",
        conda:
            CONDA_ENV
        params:
            code=code("nnstd"),
            local=NNSTD_REFERENCE_LOCAL,
            epochs=NNSTD_REFERENCE_EPOCHS,
        script:
            "../scripts/nnstd_reference_status.py"


# ---- the project's own chain of SET networks
rule nnstd_chain_dataset:
    output:
        f"{NNSTD_OUT}/chain/data.npz",
    log:
        f"{NNSTD_LOGS}/chain_dataset.log",
    conda:
        CONDA_ENV
    params:
        code=code("nnstd"),
        dataset=NNSTD["dataset"],
        options={"image_size": NNSTD["image_size"]},
    script:
        "../scripts/nnstd_chain_dataset.py"


rule nnstd_chain_init:
    output:
        f"{NNSTD_OUT}/chain/init_masks.npz",
    log:
        f"{NNSTD_LOGS}/chain_init.log",
    conda:
        CONDA_ENV
    params:
        code=code("nnstd"),
        options=chain_options(NNSTD),
    script:
        "../scripts/nnstd_chain_init.py"


rule nnstd_chain_train:
    input:
        data=f"{NNSTD_OUT}/chain/data.npz",
        init=f"{NNSTD_OUT}/chain/init_masks.npz",
    output:
        masks=f"{NNSTD_OUT}/chain/w{{network}}/masks_per_epoch.npz",
        summary=f"{NNSTD_OUT}/chain/w{{network}}/train.json",
    log:
        f"{NNSTD_LOGS}/chain_train_w{{network}}.log",
    benchmark:
        f"{NNSTD_BENCHMARKS}/chain_train_w{{network}}.tsv"
    wildcard_constraints:
        network=r"\d+",
    conda:
        CONDA_ENV
    threads: 1
    params:
        code=code("nnstd"),
        options=chain_options(NNSTD),
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
    log:
        f"{NNSTD_LOGS}/chain_pairs.log",
    benchmark:
        f"{NNSTD_BENCHMARKS}/chain_pairs.tsv"
    conda:
        CONDA_ENV
    params:
        code=code("nnstd"),
        names=[f"w{k}" for k in range(NNSTD["networks"])],
        epochs=[e for e in NNSTD["snapshot_epochs"] if e <= NNSTD["epochs"]],
        null_draws=NNSTD["null_draws"],
        null_seed=NNSTD["null_seed"],
    script:
        "../scripts/nnstd_chain_pairs.py"


rule nnstd_chain_figure:
    input:
        pairs=f"{NNSTD_OUT}/chain/pairs.parquet",
    output:
        png=report(
            f"{NNSTD_OUT}/chain/nnstd_chain.png", caption="../report/nnstd_chain.rst", category="Topology distance"
        ),
        pdf=f"{NNSTD_OUT}/chain/nnstd_chain.pdf",
    log:
        f"{NNSTD_LOGS}/chain_figure.log",
    benchmark:
        f"{NNSTD_BENCHMARKS}/chain_figure.tsv"
    conda:
        CONDA_ENV
    params:
        code=code("nnstd"),
        title="NNSTD of the project's SET chain (1% perturbation steps)",
    script:
        "../scripts/nnstd_heatmap.py"


# ---- NNSTD between the final topologies of different seeds of the study's runs
if NNSTD_RUNS_ON:

    rule nnstd_runs_pairs:
        input:
            checkpoints=[f"{run_dir(run)}/train.pt" for run in sparse_runs()],
            summaries=[f"{run_dir(run)}/train.json" for run in sparse_runs()],
        output:
            pairs=f"{NNSTD_OUT}/runs/pairs.parquet",
            csv=f"{NNSTD_OUT}/runs/pairs.csv",
            layers=f"{NNSTD_OUT}/runs/layers.parquet",
        log:
            f"{NNSTD_LOGS}/runs_pairs.log",
        benchmark:
            f"{NNSTD_BENCHMARKS}/runs_pairs.tsv"
        conda:
            CONDA_ENV
        threads: 1
        params:
            code=code("nnstd"),
            runs=[run.keys() for run in sparse_runs()],
            null_draws=NNSTD["null_draws"],
            null_seed=NNSTD["null_seed"],
        script:
            "../scripts/nnstd_runs_pairs.py"

    rule nnstd_runs_figure:
        input:
            pairs=f"{NNSTD_OUT}/runs/pairs.parquet",
        output:
            png=report(
                f"{NNSTD_OUT}/runs/nnstd_runs.png", caption="../report/nnstd_runs.rst", category="Topology distance"
            ),
            pdf=f"{NNSTD_OUT}/runs/nnstd_runs.pdf",
        log:
            f"{NNSTD_LOGS}/runs_figure.log",
        benchmark:
            f"{NNSTD_BENCHMARKS}/runs_figure.tsv"
        conda:
            CONDA_ENV
        params:
            code=code("nnstd"),
        script:
            "../scripts/nnstd_runs_figure.py"
