# sparsetopo: the topology of sparse neural networks, from pruning to statistics.
#   snakemake --cores 2                                  default study (embedded MNIST)
#   snakemake --configfile config/paper.yaml --profile slurm   the papers' grid on a SLURM cluster
#   snakemake -s /path/to/Snakefile -d /elsewhere    any working directory: results/ and logs/ go there
import sys
from pathlib import Path

from snakemake.utils import min_version

min_version("9.0")

# The library: the installed one (make venv), else the repository's own src/, so that an environment holding only
# the locked dependencies (environment.yml; a rule's conda environment with `--sdm conda`) runs the workflow without
# installing the project. The jobs' scripts find it the same way: Snakemake starts each script by appending this
# process's sys.path to the script's (snakemake.common.get_snakemake_searchpaths).
sys.path.append(str(Path(workflow.basedir, "src")))


# The default study, unless a study is chosen with --configfile: a study file is complete on its own (keys it
# leaves out take the schema's defaults, never the default study's values).
if not workflow.overwrite_configfiles:

    configfile: workflow.source_path("config/config.yaml")


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
