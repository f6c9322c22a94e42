# NNSTD (Liu et al., ECML-PKDD 2020): topology-evolution heatmaps of the original study's shipped topologies and
# of the project's own SET chain, each with the random-null baseline. Needs RESULTS and config from common.smk.

from sparsetopo.nnstd import CHAIN_DEFAULTS, reference_epochs, reference_networks

NNSTD_DEFAULTS = {
    "enabled": False,
    "reference_topologies": None,  # path of the original `topo` folder; null = skip the reference figure
    "reference_epochs": None,  # list of snapshot epochs; null = all found
    "null_draws": 3,
    "null_seed": 0,
    "chain": True,  # the same experiment on the project's own SET runs (when enabled)
    **CHAIN_DEFAULTS,  # dataset, image_size, hidden, epsilon, zeta, epochs, lr, momentum, weight_decay,
                       # batch_size, networks, perturb_fraction, seed (sparsetopo.nnstd.CHAIN_DEFAULTS)
    "snapshot_epochs": [0, 1, 5, 10, 15],
}
NNSTD = {**NNSTD_DEFAULTS, **config.get("nnstd", {})}
NNSTD_OUT = f"{RESULTS}/nnstd"
NNSTD_LOGS = f"logs/{config['study']}/nnstd"
NNSTD_CHAIN_KEYS = list(CHAIN_DEFAULTS)


def nnstd_chain_options():
    return {k: NNSTD[k] for k in NNSTD_CHAIN_KEYS}


def nnstd_targets():
    """Target files of the NNSTD figures (empty unless nnstd.enabled)."""
    if not NNSTD["enabled"]:
        return []
    out = []
    if NNSTD["reference_topologies"]:
        out += [f"{NNSTD_OUT}/reference/pairs.parquet", f"{NNSTD_OUT}/reference/nnstd_reference.png",
                f"{NNSTD_OUT}/reference/nnstd_reference.pdf"]
    if NNSTD["chain"]:
        out += [f"{NNSTD_OUT}/chain/pairs.parquet", f"{NNSTD_OUT}/chain/accuracy.csv",
                f"{NNSTD_OUT}/chain/nnstd_chain.png", f"{NNSTD_OUT}/chain/nnstd_chain.pdf"]
    return out


def nnstd_reference_epochs():
    """Snapshot epochs of the reference figure: nnstd.reference_epochs, else all found in the first network."""
    if NNSTD["reference_epochs"]:
        return [int(e) for e in NNSTD["reference_epochs"]]
    if not NNSTD["reference_topologies"]:
        return []
    return reference_epochs(reference_networks(NNSTD["reference_topologies"])[0])


rule nnstd_reference_epoch:
    input:
        topologies=NNSTD["reference_topologies"] or [],
    output:
        temp(f"{NNSTD_OUT}/reference/pairs_epoch{{epoch}}.parquet"),
    params:
        null_draws=NNSTD["null_draws"],
        null_seed=NNSTD["null_seed"],
    wildcard_constraints:
        epoch=r"\d+",
    threads: 1
    log:
        f"{NNSTD_LOGS}/reference_epoch{{epoch}}.log",
    benchmark:
        f"{NNSTD_LOGS}/reference_epoch{{epoch}}.benchmark.tsv"
    script:
        "../scripts/nnstd_reference_pairs.py"


rule nnstd_reference_pairs:
    input:
        epochs=lambda wc: expand(f"{NNSTD_OUT}/reference/pairs_epoch{{epoch}}.parquet",
                                 epoch=nnstd_reference_epochs()),
    output:
        pairs=f"{NNSTD_OUT}/reference/pairs.parquet",
        csv=f"{NNSTD_OUT}/reference/pairs.csv",
    log:
        f"{NNSTD_LOGS}/reference_pairs.log",
    script:
        "../scripts/nnstd_concat_pairs.py"


rule nnstd_reference_figure:
    input:
        pairs=f"{NNSTD_OUT}/reference/pairs.parquet",
    output:
        png=report(f"{NNSTD_OUT}/reference/nnstd_reference.png", caption="../report/nnstd_reference.rst",
                   category="Topology distance"),
        pdf=report(f"{NNSTD_OUT}/reference/nnstd_reference.pdf", caption="../report/nnstd_reference.rst",
                   category="Topology distance"),
    params:
        title="NNSTD of the original study's SET-MLPs (Liu et al. 2020, Fig. 4 data)",
    log:
        f"{NNSTD_LOGS}/reference_figure.log",
    script:
        "../scripts/nnstd_heatmap.py"


rule nnstd_chain_dataset:
    output:
        f"{NNSTD_OUT}/chain/data.npz",
    params:
        dataset=NNSTD["dataset"],
        options={"image_size": NNSTD["image_size"]},
    log:
        f"{NNSTD_LOGS}/chain_dataset.log",
    script:
        "../scripts/nnstd_chain_dataset.py"


rule nnstd_chain_init:
    output:
        f"{NNSTD_OUT}/chain/init_masks.npz",
    params:
        options=nnstd_chain_options(),
    log:
        f"{NNSTD_LOGS}/chain_init.log",
    script:
        "../scripts/nnstd_chain_init.py"


rule nnstd_chain_train:
    input:
        data=f"{NNSTD_OUT}/chain/data.npz",
        init=f"{NNSTD_OUT}/chain/init_masks.npz",
    output:
        masks=f"{NNSTD_OUT}/chain/w{{network}}/masks_per_epoch.npz",
        summary=f"{NNSTD_OUT}/chain/w{{network}}/train.json",
    params:
        options=nnstd_chain_options(),
    wildcard_constraints:
        network=r"\d+",
    threads: 1
    log:
        f"{NNSTD_LOGS}/chain_train_w{{network}}.log",
    benchmark:
        f"{NNSTD_LOGS}/chain_train_w{{network}}.benchmark.tsv"
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
    params:
        names=[f"w{k}" for k in range(NNSTD["networks"])],
        epochs=[e for e in NNSTD["snapshot_epochs"] if e <= NNSTD["epochs"]],
        null_draws=NNSTD["null_draws"],
        null_seed=NNSTD["null_seed"],
    log:
        f"{NNSTD_LOGS}/chain_pairs.log",
    benchmark:
        f"{NNSTD_LOGS}/chain_pairs.benchmark.tsv"
    script:
        "../scripts/nnstd_chain_pairs.py"


rule nnstd_chain_figure:
    input:
        pairs=f"{NNSTD_OUT}/chain/pairs.parquet",
    output:
        png=report(f"{NNSTD_OUT}/chain/nnstd_chain.png", caption="../report/nnstd_chain.rst",
                   category="Topology distance"),
        pdf=report(f"{NNSTD_OUT}/chain/nnstd_chain.pdf", caption="../report/nnstd_chain.rst",
                   category="Topology distance"),
    params:
        title="NNSTD of the project's SET chain (1% perturbation steps)",
    log:
        f"{NNSTD_LOGS}/chain_figure.log",
    script:
        "../scripts/nnstd_heatmap.py"
