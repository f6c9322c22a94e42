# Collect: one table per encoding over all runs (parquet for machines, CSV for people), joined with
# accuracy, the dense baseline's accuracy and the accuracy drop.

if RUNS_SOURCE:

    localrules:
        collect,

    rule collect:
        input:
            **{name: [f"{run_dir(r)}/metrics_{name}.parquet" for r in sparse_runs()] for name in metric_names()},
            train=[run_record(run_dir(r)) for r in dense_runs() + sparse_runs()],
        output:
            expand(f"{RESULTS}/tables/{{name}}.{{ext}}", name=table_names(), ext=["parquet", "csv"]),
            provenance=f"{RESULTS}/tables/collect.json",
        log:
            f"{LOGS}/collect.log",
        conda:
            CONDA_ENV
        params:
            names=metric_names(),
            tables=table_names(),
            num_classes={d: dataset_info(d, config["dataset_options"].get(d)).num_classes for d in config["datasets"]},
            code=code("collect"),
        script:
            "../scripts/collect.py"
