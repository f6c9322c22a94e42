# Analyses A1-A4 (tables + figures) on the collected tables, and, for `source: published`, the collected tables
# made from the main paper's released CSVs (downloaded at a pinned commit unless `paper_data_dir` is set).
# Needs from common.smk: config, RESULTS, LOGS (and table_names() for `source: runs`).

ANALYSIS_TABLE_EXTS = ["parquet", "csv", "md", "tex"]
PUBLISHED_TABLE_NAMES = [
    "multipartite",
    "rolled",
    "rolled_channel",
    "ramanujan",
    "rolled_summary",
    "rolled_channel_summary",
    "ramanujan_summary",
]
_TARGET_NOTE = (
    "Target: accuracy drop when dense accuracies are known, else test accuracy (column 'target'); "
    "within one model x dataset both give the same R2 and rank statistics."
)
ANALYSIS_OUTPUTS = {
    "ramanujan_vs_density": {
        "tables": {
            "ramanujan_vs_density": "A1: Spearman and Kendall correlation of accuracy with Ramanujan and layer-density "
            "summaries per model, dataset and sparsity.",
            "ramanujan_nested_ols": "A1: nested OLS accuracy ~ density summaries vs ~ density + Ramanujan metrics "
            "(R2, Delta R2, F-test p-value, AIC) per model, dataset and sparsity.",
        },
        "needs": ["ramanujan_summary"],
    },
    "accuracy_drop_prediction": {
        "tables": {
            "accuracy_drop_prediction": "A2: out-of-fold R2 and MAE (bootstrap 95% intervals) per feature set, learner "
            "and grouped CV scheme. " + _TARGET_NOTE,
        },
        "needs": [],
    },
    "metric_importance": {
        "tables": {
            "metric_importance": "A3: held-out permutation importance and standardised OLS coefficients (HC3) of "
            "each topometric, per architecture and per sparsity. " + _TARGET_NOTE,
        },
        "needs": [],
    },
    "pai_ranking": {
        "tables": {
            "pai_ranking": "A4: agreement (Kendall tau-b, top-1) between the true ranking of pruners and rankings by "
            "topometrics, a Ramanujan metric and density, per model, dataset and sparsity.",
            "pai_ranking_summary": "A4: mean Kendall tau and top-1 rate of each ranker, per model and overall.",
        },
        "needs": [],
    },
}
ANALYSIS_OPTIONS = config.get("analysis") or {}
PUBLISHED_SOURCE = config.get("source", "runs") == "published"


def analysis_table_names():
    """The collected tables this study has (inputs of the analyses)."""
    if PUBLISHED_SOURCE:
        return list(PUBLISHED_TABLE_NAMES)
    return [name for name in table_names() if name != "runs"]


def analysis_inputs(wildcards=None):
    """The tables the analyses read: the multipartite table and the per-run layer summaries."""
    names = [n for n in analysis_table_names() if n == "multipartite" or n.endswith("_summary")]
    return {name: f"{RESULTS}/tables/{name}.parquet" for name in names}


def analysis_enabled():
    """Configured analyses whose required tables exist for this study (others are skipped with a note)."""
    available = set(analysis_table_names())
    enabled = []
    for name in config.get("analyses") or []:
        missing = [t for t in ANALYSIS_OUTPUTS[name]["needs"] if t not in available]
        if missing:
            print(f"analysis {name} skipped: this study has no {', '.join(missing)} table", file=sys.stderr)
            continue
        enabled.append(name)
    return enabled


def analysis_targets():
    """Every analysis table and figure of this study (for `rule all`)."""
    targets = []
    for name in analysis_enabled():
        for stem in ANALYSIS_OUTPUTS[name]["tables"]:
            targets += expand(f"{RESULTS}/tables/{stem}.{{ext}}", ext=ANALYSIS_TABLE_EXTS)
        targets += expand(f"{RESULTS}/figures/{name}.{{ext}}", ext=["png", "pdf"])
    if config.get("analyses") and "multipartite" in analysis_table_names():
        targets += expand(
            f"{RESULTS}/figures/{{name}}.{{ext}}", name=["accuracy_by_pruner", "topometric_distributions"], ext=["png", "pdf"]
        )
    return targets


def _analysis_table_outputs(name):
    return expand(f"{RESULTS}/tables/{{stem}}.{{ext}}", stem=list(ANALYSIS_OUTPUTS[name]["tables"]), ext=ANALYSIS_TABLE_EXTS)


def _analysis_params(name):
    tables = ANALYSIS_OUTPUTS[name]["tables"]
    return {
        "stems": [f"{RESULTS}/tables/{stem}" for stem in tables],
        "captions": list(tables.values()),
    }


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
    script:
        "../scripts/analysis_overview.py"
