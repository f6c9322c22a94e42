# Audit: after everything else, re-derive a seeded sample of the study's artifacts from their recorded inputs and
# configuration (sparsetopo.verify.audit) and write results/<study>/audit.md (linked from the report).


if config["audit"]["sample"]:

    rule audit:
        input:
            [t for t in study_targets() if not t.endswith("audit.md")],
        output:
            report(f"{RESULTS}/audit.md", caption="../report/audit.rst", category="0. Verdicts"),
        log:
            f"{LOGS}/audit.log",
        benchmark:
            f"{LOGS}/benchmarks/audit.tsv"
        conda:
            CONDA_ENV
        params:
            sample=config["audit"]["sample"],
            seed=config["audit"]["seed"],
            code=code("audit"),
        script:
            "../scripts/audit.py"
