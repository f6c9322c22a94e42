# sparsetopo: the topology of sparse neural networks, from pruning to statistics.
#   snakemake --cores 2                                  default study (embedded MNIST)
#   snakemake --configfile config/paper.yaml --profile slurm   the papers' grid on a SLURM cluster
from snakemake.utils import min_version

min_version("9.0")


# The default study, unless a study is chosen with --configfile: a study file is complete on its own (keys it
# leaves out take the schema's defaults, never the default study's values).
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/metrics.smk"
include: "workflow/rules/batch.smk"
include: "workflow/rules/collect.smk"
include: "workflow/rules/nnstd.smk"
include: "workflow/rules/earlybird.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/audit.smk"


report: REPORT_PAGE


rule all:
    default_target: True
    input:
        study_targets(),
