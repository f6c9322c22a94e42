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
# the collected tables this study has, and those the analyses read (multipartite and the per-run layer summaries)
ANALYSIS_TABLE_NAMES = list(PUBLISHED_TABLE_NAMES) if PUBLISHED_SOURCE else [n for n in table_names() if n != "runs"]
ANALYSIS_INPUTS = {
    name: f"{RESULTS}/tables/{name}.parquet"
    for name in ANALYSIS_TABLE_NAMES
    if name == "multipartite" or name.endswith("_summary")
}
# configured analyses whose required tables exist for this study (the others are skipped with a note)
ANALYSES_ENABLED = [name for name in config["analyses"] if not set(ANALYSES[name].needs) - set(ANALYSIS_TABLE_NAMES)]
for _name in sorted(set(config["analyses"]) - set(ANALYSES_ENABLED)):
    print(f"analysis {_name} skipped: this study has no {', '.join(ANALYSES[_name].needs)} table", file=sys.stderr)
ANALYSIS_TABLE_OUTPUTS = {
    name: [
        f"{RESULTS}/tables/{stem}.{ext}"
        for stem in analysis.tables
        for ext in analysis.formats.get(stem, TABLE_FORMATS)
    ]
    for name, analysis in ANALYSES.items()
}
ANALYSIS_TARGETS = [path for name in ANALYSES_ENABLED for path in ANALYSIS_TABLE_OUTPUTS[name]] + [
    f"{RESULTS}/figures/{name}.{ext}" for name in ANALYSES_ENABLED for ext in ("png", "pdf")
]
# what the claims read, among what this study makes (a claim without its data is reported inconclusive)
CLAIMS_INPUTS = {
    role: f"{RESULTS}/tables/{table}.parquet"
    for analysis, role, table in (
        ("accuracy_drop_prediction", "oof", "accuracy_drop_predictions"),
        ("metric_importance", "concordance", "importance_concordance"),
        ("pai_ranking", "ranking", "pai_ranking"),
    )
    if analysis in ANALYSES_ENABLED
}
if RUNS_SOURCE:
    CLAIMS_INPUTS["runs"] = f"{RESULTS}/tables/runs.parquet"
if NNSTD_RUNS_ON:
    CLAIMS_INPUTS["nnstd_runs"] = f"{NNSTD_OUT}/runs/pairs.parquet"
if EARLYBIRD["enabled"]:
    CLAIMS_INPUTS["earlybird"] = f"{EARLYBIRD_OUT}/tickets.parquet"
CLAIMS_TARGETS = (
    [f"{RESULTS}/tables/claims.{ext}" for ext in TABLE_FORMATS]
    + [f"{RESULTS}/tables/claims_clusters.{ext}" for ext in ("parquet", "csv", "md")]
    + [f"{RESULTS}/figures/{name}.{ext}" for name in ("claims_prediction", "claims_clusters") for ext in ("png", "pdf")]
    + [VERDICTS_PAGE]
    if config["claims"]["enabled"]
    else []
)
# the report's front page: the verdicts (with the workflow description) once the claims exist (files of the repository
# are named through workflow.source_path, so that any working directory works)
WORKFLOW_PAGE = workflow.source_path("../report/workflow.rst")
REPORT_PAGE = str(Path(VERDICTS_PAGE).resolve()) if Path(VERDICTS_PAGE).exists() else WORKFLOW_PAGE


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
            folder=PAPER_DATA_DIR,
        output:
            expand(f"{RESULTS}/tables/{{name}}.{{ext}}", name=PUBLISHED_TABLE_NAMES, ext=["parquet", "csv"]),
            provenance=f"{RESULTS}/tables/published.json",
        log:
            f"{LOGS}/published/tables.log",
        benchmark:
            f"{LOGS}/benchmarks/published_tables.tsv"
        conda:
            CONDA_ENV
        params:
            dense_accuracy=config.get("dense_accuracy") or {},
            code=code("published"),
        script:
            "../scripts/published_tables.py"


for _name in ANALYSES:

    rule:
        name:
            f"analysis_{_name}"
        input:
            **ANALYSIS_INPUTS,
        output:
            tables=ANALYSIS_TABLE_OUTPUTS[_name],
            provenance=f"{RESULTS}/tables/{_name}.json",
            png=report(f"{RESULTS}/figures/{_name}.png", caption="../report/analysis.rst", category="Analyses"),
            pdf=f"{RESULTS}/figures/{_name}.pdf",
        log:
            f"{LOGS}/analysis/{_name}.log",
        benchmark:
            f"{LOGS}/benchmarks/analysis/{_name}.tsv"
        conda:
            CONDA_ENV
        params:
            analysis=_name,
            options=stage_config(config, "analysis", options=ANALYSES[_name].options),
            caption=ANALYSES[_name].caption,
            code=code("analysis"),
        script:
            "../scripts/analysis.py"


rule claims:
    input:
        **CLAIMS_INPUTS,
        description=WORKFLOW_PAGE,
    output:
        tables=expand(f"{RESULTS}/tables/claims.{{ext}}", ext=TABLE_FORMATS),
        verdicts=report(f"{RESULTS}/tables/claims.csv", caption="../report/claims.rst", category="0. Verdicts"),
        png=report(
            f"{RESULTS}/figures/claims_prediction.png",
            caption="../report/claims_prediction.rst",
            category="0. Verdicts",
        ),
        pdf=f"{RESULTS}/figures/claims_prediction.pdf",
        clusters=expand(f"{RESULTS}/tables/claims_clusters.{{ext}}", ext=["parquet", "csv", "md"]),
        clusters_png=report(
            f"{RESULTS}/figures/claims_clusters.png",
            caption="../report/claims_clusters.rst",
            category="0. Verdicts",
        ),
        clusters_pdf=f"{RESULTS}/figures/claims_clusters.pdf",
        page=VERDICTS_PAGE,
        provenance=f"{RESULTS}/tables/claims.json",
    log:
        f"{LOGS}/analysis/claims.log",
    benchmark:
        f"{LOGS}/benchmarks/analysis/claims.tsv"
    conda:
        CONDA_ENV
    params:
        rules=stage_config(config, "claims"),
        study=STUDY,
        # the study's configuration files: the claims job records their sha256 and git commit (pre-registration);
        # the ledger of decision rules lives beside the results, outside the job's outputs
        config_files=[str(f) for f in workflow.configfiles],
        ledger=f"{RESULTS}/preregistration",
        code=code("claims"),
    script:
        "../scripts/claims.py"
