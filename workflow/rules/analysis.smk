# Analyses and claims on the collected tables: one rule per entry of the analysis catalogue
# (sparsetopo.analysis.catalogue.ANALYSES: tables, figure and captions come from there), the overview figures,
# and the claims (sparsetopo.analysis.claims: verdicts from the rules of the config's `claims` section, written
# as tables and as the report's front page). For `source: published`, the collected tables are made from the
# main paper's released CSVs (downloaded at a pinned commit unless `paper_data_dir` is set).
from sparsetopo.analysis.catalogue import ANALYSES
from sparsetopo.analysis.published import TABLE_NAMES as PUBLISHED_TABLE_NAMES

PUBLISHED_SOURCE = config["source"] == "published"
TABLE_FORMATS = ["parquet", "csv", "md", "tex"]
VERDICTS_PAGE = f"{RESULTS}/report/verdicts.rst"


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
    for name in config["analyses"]:
        missing = [t for t in ANALYSES[name].needs if t not in available]
        if missing:
            print(f"analysis {name} skipped: this study has no {', '.join(missing)} table", file=sys.stderr)
            continue
        enabled.append(name)
    return enabled


def analysis_table_outputs(name):
    """Table files of analysis ``name`` (each stem in its formats)."""
    analysis = ANALYSES[name]
    return [f"{RESULTS}/tables/{stem}.{ext}" for stem in analysis.tables
            for ext in analysis.formats.get(stem, TABLE_FORMATS)]


def analysis_targets():
    """Every analysis table and figure of this study (for `rule all`)."""
    targets = []
    for name in analysis_enabled():
        targets += analysis_table_outputs(name)
        targets += expand(f"{RESULTS}/figures/{name}.{{ext}}", ext=["png", "pdf"])
    if config["analyses"] and "multipartite" in analysis_table_names():
        targets += expand(f"{RESULTS}/figures/{{name}}.{{ext}}",
                          name=["accuracy_by_pruner", "topometric_distributions"], ext=["png", "pdf"])
    return targets


def claims_inputs(wildcards=None):
    """What the claims read, among what this study makes (a claim without its data is reported inconclusive)."""
    enabled, inputs = analysis_enabled(), {}
    for analysis, name, table in (("accuracy_drop_prediction", "oof", "accuracy_drop_predictions"),
                                  ("metric_importance", "concordance", "importance_concordance"),
                                  ("pai_ranking", "ranking", "pai_ranking")):
        if analysis in enabled:
            inputs[name] = f"{RESULTS}/tables/{table}.parquet"
    if RUNS_SOURCE:
        inputs["runs"] = f"{RESULTS}/tables/runs.parquet"
    if NNSTD_RUNS_ON:
        inputs["nnstd_runs"] = f"{NNSTD_OUT}/runs/pairs.parquet"
    if EARLYBIRD["enabled"]:
        inputs["earlybird"] = f"{EARLYBIRD_OUT}/tickets.parquet"
    return inputs


def report_page():
    """The report's front page: the verdicts (with the workflow description) once the claims exist, else the
    workflow description alone."""
    page = Path(VERDICTS_PAGE)
    return str(page.resolve()) if page.exists() else "workflow/report/workflow.rst"


def claims_targets():
    if not config["claims"]["enabled"]:
        return []
    return expand(f"{RESULTS}/tables/claims.{{ext}}", ext=TABLE_FORMATS) + expand(
        f"{RESULTS}/figures/claims_prediction.{{ext}}", ext=["png", "pdf"]) + [VERDICTS_PAGE]


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
            code=code("published"),
        log:
            f"{LOGS}/published/tables.log",
        benchmark:
            f"{LOGS}/benchmarks/published_tables.tsv"
        conda:
            CONDA_ENV
        script:
            "../scripts/published_tables.py"


for _name in ANALYSES:

    rule:
        name:
            f"analysis_{_name}"
        input:
            unpack(analysis_inputs),
        output:
            tables=analysis_table_outputs(_name),
            provenance=f"{RESULTS}/tables/{_name}.json",
            png=report(f"{RESULTS}/figures/{_name}.png", caption="../report/analysis.rst", category="Analyses"),
            pdf=f"{RESULTS}/figures/{_name}.pdf",
        params:
            analysis=_name,
            options=stage_config(config, "analysis", analysis=_name),
            caption=ANALYSES[_name].caption,
            code=code("analysis"),
        log:
            f"{LOGS}/analysis/{_name}.log",
        benchmark:
            f"{LOGS}/benchmarks/analysis/{_name}.tsv"
        conda:
            CONDA_ENV
        script:
            "../scripts/analysis.py"


rule claims:
    input:
        unpack(claims_inputs),
        description="workflow/report/workflow.rst",
    output:
        tables=expand(f"{RESULTS}/tables/claims.{{ext}}", ext=TABLE_FORMATS),
        verdicts=report(f"{RESULTS}/tables/claims.csv", caption="../report/claims.rst", category="0. Verdicts"),
        png=report(f"{RESULTS}/figures/claims_prediction.png", caption="../report/claims_prediction.rst",
                   category="0. Verdicts"),
        pdf=f"{RESULTS}/figures/claims_prediction.pdf",
        page=VERDICTS_PAGE,
        provenance=f"{RESULTS}/tables/claims.json",
    params:
        rules=stage_config(config, "claims"),
        study=STUDY,
        code=code("claims"),
    log:
        f"{LOGS}/analysis/claims.log",
    benchmark:
        f"{LOGS}/benchmarks/analysis/claims.tsv"
    conda:
        CONDA_ENV
    script:
        "../scripts/claims.py"


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
    params:
        code=code("figures"),
    log:
        f"{LOGS}/analysis/overview.log",
    benchmark:
        f"{LOGS}/benchmarks/analysis/overview.tsv"
    conda:
        CONDA_ENV
    script:
        "../scripts/analysis_overview.py"
