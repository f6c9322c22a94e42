# Data: materialise the embedded datasets (seeded stratified split), check or download the others (or, for a
# shape-only dataset, record its shape).
from sparsetopo.data import DATASETS

EMBEDDED_DATASETS = "|".join(n for n in DATASETS.names() if dataset_info(n).embedded)
OTHER_DATASETS = "|".join(n for n in DATASETS.names() if not dataset_info(n).embedded)


rule data_embedded:
    output:
        npz=f"{RESULTS}/data/{{dataset}}.npz",
        manifest=f"{RESULTS}/data/{{dataset}}.json",
    log:
        f"{LOGS}/data/{{dataset}}.log",
    benchmark:
        f"{LOGS}/benchmarks/data/{{dataset}}.tsv"
    wildcard_constraints:
        dataset=EMBEDDED_DATASETS,
    conda:
        CONDA_ENV
    params:
        config=lambda wildcards: stage_config(config, "data", dataset=wildcards.dataset),
        code=code("data"),
    script:
        "../scripts/data.py"


rule data_external:
    output:
        manifest=f"{RESULTS}/data/{{dataset}}.json",
    log:
        f"{LOGS}/data/{{dataset}}.log",
    benchmark:
        f"{LOGS}/benchmarks/data/{{dataset}}.tsv"
    wildcard_constraints:
        dataset=OTHER_DATASETS,
    conda:
        CONDA_ENV
    params:
        config=lambda wildcards: stage_config(config, "data", dataset=wildcards.dataset),
        code=code("data"),
    script:
        "../scripts/data.py"
