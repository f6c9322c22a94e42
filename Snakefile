# sparsetopo: the topology of sparse neural networks, from pruning to statistics.
#   snakemake --cores 2                                  default study (embedded MNIST)
#   snakemake --configfile config/paper.yaml --profile slurm   the papers' grid on a SLURM cluster
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/metrics.smk"
include: "workflow/rules/collect.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/nnstd.smk"
include: "workflow/rules/earlybird.smk"


report: report_page()


rule all:
    input:
        study_targets(),
    default_target: True
