# Prune and train one run, in one job: seeded initial weights and one binary mask per prunable layer
# (prune.pt/json), then training with the masked weights kept exactly zero (train.pt/json); dynamic sparse
# training records its masks every epoch. One job instead of two saves a process start-up (torch import) per
# run; the two stages stay separate functions (sparsetopo.stages.train.prune_run / train_run) and CLI commands.
# params: the configuration the stage reads for this run and the fingerprint of its code, so that a change of
# either reruns exactly the affected jobs. A killed job resumes from its per-epoch checkpoint (train.ckpt).
# Without training (training.enabled: false, e.g. a shape-only dataset) the job only prunes. With runs_per_job > 1
# the runs are pruned, trained and measured in batches instead (batch.smk).


if TRAINING and not BATCHED:

    rule train:
        input:
            unpack(data_inputs),
        output:
            prune=f"{RESULTS}/runs/{RUN}/prune.pt",
            prune_json=f"{RESULTS}/runs/{RUN}/prune.json",
            pt=f"{RESULTS}/runs/{RUN}/train.pt",
            json=f"{RESULTS}/runs/{RUN}/train.json",
            masks=f"{RESULTS}/runs/{RUN}/masks_per_epoch.npz",
        log:
            f"{LOGS}/train/{RUN}.log",
        benchmark:
            f"{LOGS}/benchmarks/train/{RUN}.tsv"
        conda:
            CONDA_ENV
        threads: config["training"]["threads"]
        resources:
            mem_mb=8000,
            gpu=1,
        params:
            config=run_config("train"),
            code=run_code("train"),
        script:
            "../scripts/train.py"

elif not BATCHED:

    rule prune:
        input:
            unpack(data_inputs),
        output:
            prune=f"{RESULTS}/runs/{RUN}/prune.pt",
            prune_json=f"{RESULTS}/runs/{RUN}/prune.json",
        log:
            f"{LOGS}/prune/{RUN}.log",
        benchmark:
            f"{LOGS}/benchmarks/prune/{RUN}.tsv"
        conda:
            CONDA_ENV
        threads: config["training"]["threads"]
        resources:
            mem_mb=8000,
        params:
            config=run_config("train"),
            code=run_code("prune"),
        script:
            "../scripts/prune.py"
