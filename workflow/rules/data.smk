# Data: materialise the embedded datasets (seeded stratified split), check or download the others.


rule data_embedded:
    output:
        npz=f"{RESULTS}/data/{{dataset}}.npz",
        manifest=f"{RESULTS}/data/{{dataset}}.json",
    wildcard_constraints:
        dataset="mnist5k|digits",
    params:
        config=lambda wildcards: stage_config(config, "data", dataset=wildcards.dataset),
        code=code("data"),
    log:
        f"{LOGS}/data/{{dataset}}.log",
    benchmark:
        f"{LOGS}/benchmarks/data/{{dataset}}.tsv"
    conda:
        CONDA_ENV
    script:
        "../scripts/data.py"


rule data_external:
    output:
        manifest=f"{RESULTS}/data/{{dataset}}.json",
    wildcard_constraints:
        dataset="cifar10|cifar100|tinyimagenet",
    params:
        config=lambda wildcards: stage_config(config, "data", dataset=wildcards.dataset),
        code=code("data"),
    log:
        f"{LOGS}/data/{{dataset}}.log",
    benchmark:
        f"{LOGS}/benchmarks/data/{{dataset}}.tsv"
    conda:
        CONDA_ENV
    script:
        "../scripts/data.py"
