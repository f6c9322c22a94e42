# Analyses A1-A4 (tables + figures) on the collected tables, and, for `source: published`, the collected tables
# made from the main paper's released CSVs (downloaded at a pinned commit unless `paper_data_dir` is set).
# Needs from common.smk: config, RESULTS, LOGS (and table_names() for `source: runs`).


if PUBLISHED_SOURCE:
    PAPER_DATA_DIR = config.get("paper_data_dir") or f"{RESULTS}/published/graph_data"

    localrules:
        published_tables,

    if not config.get("paper_data_dir"):

        localrules:
            download_published,

        rule download_published:
            output:
                directory(f"{RESULTS}/published/graph_data"),
            log:
                f"{LOGS}/published/download.log",
            conda:
                CONDA_ENV
            script:
                "../scripts/published_download.py"

    rule published_tables:
        input:
            PAPER_DATA_DIR,
        output:
            expand(f"{RESULTS}/tables/{{name}}.{{ext}}", name=PUBLISHED_TABLE_NAMES, ext=["parquet", "csv"]),
        params:
            folder=PAPER_DATA_DIR,
            dense_accuracy=config.get("dense_accuracy") or {},
        log:
            f"{LOGS}/published/tables.log",
        benchmark:
            f"{RESULTS}/benchmarks/published_tables.tsv"
        conda:
            CONDA_ENV
        script:
            "../scripts/published_tables.py"


rule analysis_ramanujan_vs_density:
    input:
        unpack(analysis_inputs),
    output:
        _analysis_table_outputs("ramanujan_vs_density"),
        png=report(
            f"{RESULTS}/figures/ramanujan_vs_density.png",
            caption="../report/analysis_ramanujan_vs_density.rst",
            category="Analyses",
        ),
        pdf=f"{RESULTS}/figures/ramanujan_vs_density.pdf",
    params:
        options=ANALYSIS_OPTIONS,
        **_analysis_params("ramanujan_vs_density"),
    log:
        f"{LOGS}/analysis/ramanujan_vs_density.log",
    benchmark:
        f"{RESULTS}/benchmarks/analysis_ramanujan_vs_density.tsv"
    conda:
        CONDA_ENV
    script:
        "../scripts/analysis_ramanujan_vs_density.py"


rule analysis_accuracy_drop_prediction:
    input:
        unpack(analysis_inputs),
    output:
        _analysis_table_outputs("accuracy_drop_prediction"),
        png=report(
            f"{RESULTS}/figures/accuracy_drop_prediction.png",
            caption="../report/analysis_accuracy_drop_prediction.rst",
            category="Analyses",
        ),
        pdf=f"{RESULTS}/figures/accuracy_drop_prediction.pdf",
    params:
        options=ANALYSIS_OPTIONS,
        **_analysis_params("accuracy_drop_prediction"),
    log:
        f"{LOGS}/analysis/accuracy_drop_prediction.log",
    benchmark:
        f"{RESULTS}/benchmarks/analysis_accuracy_drop_prediction.tsv"
    conda:
        CONDA_ENV
    script:
        "../scripts/analysis_accuracy_drop_prediction.py"


rule analysis_metric_importance:
    input:
        unpack(analysis_inputs),
    output:
        _analysis_table_outputs("metric_importance"),
        png=report(
            f"{RESULTS}/figures/metric_importance.png",
            caption="../report/analysis_metric_importance.rst",
            category="Analyses",
        ),
        pdf=f"{RESULTS}/figures/metric_importance.pdf",
    params:
        options=ANALYSIS_OPTIONS,
        **_analysis_params("metric_importance"),
    log:
        f"{LOGS}/analysis/metric_importance.log",
    benchmark:
        f"{RESULTS}/benchmarks/analysis_metric_importance.tsv"
    conda:
        CONDA_ENV
    script:
        "../scripts/analysis_metric_importance.py"


rule analysis_pai_ranking:
    input:
        unpack(analysis_inputs),
    output:
        _analysis_table_outputs("pai_ranking"),
        png=report(
            f"{RESULTS}/figures/pai_ranking.png",
            caption="../report/analysis_pai_ranking.rst",
            category="Analyses",
        ),
        pdf=f"{RESULTS}/figures/pai_ranking.pdf",
    params:
        options=ANALYSIS_OPTIONS,
        **_analysis_params("pai_ranking"),
    log:
        f"{LOGS}/analysis/pai_ranking.log",
    benchmark:
        f"{RESULTS}/benchmarks/analysis_pai_ranking.tsv"
    conda:
        CONDA_ENV
    script:
        "../scripts/analysis_pai_ranking.py"


rule analysis_overview:
    input:
        multipartite=f"{RESULTS}/tables/multipartite.parquet",
    output:
        accuracy_png=report(
            f"{RESULTS}/figures/accuracy_by_pruner.png",
            caption="../report/analysis_accuracy_by_pruner.rst",
            category="Analyses",
        ),
        accuracy_pdf=f"{RESULTS}/figures/accuracy_by_pruner.pdf",
        topometrics_png=report(
            f"{RESULTS}/figures/topometric_distributions.png",
            caption="../report/analysis_topometric_distributions.rst",
            category="Analyses",
        ),
        topometrics_pdf=f"{RESULTS}/figures/topometric_distributions.pdf",
    log:
        f"{LOGS}/analysis/overview.log",
    benchmark:
        f"{RESULTS}/benchmarks/analysis_overview.tsv"
    conda:
        CONDA_ENV
    script:
        "../scripts/analysis_overview.py"
