"""Helpers of the end-to-end tests: a working directory that sees the repository's workflow, and a snakemake call
that fails with the end of its output."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def make_workdir(tmp: Path) -> Path:
    """A fresh working directory that sees the repository's workflow (as a clone would)."""
    for name in ("Snakefile", "workflow", "config", "profiles", "slurm"):
        if (ROOT / name).exists() or (ROOT / name).is_symlink():
            os.symlink(ROOT / name, tmp / name)
    return tmp


def snakemake(workdir: Path, *args: str, timeout: int = 900, configfile: str = "config/test.yaml") -> (
        subprocess.CompletedProcess):
    proc = subprocess.run([*SNAKEMAKE, "--configfile", configfile, *args], cwd=workdir, text=True,
                          capture_output=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


#: run in a subprocess (the Snakemake API changes the working directory and the logging of its process): load the
#: workflow once per configuration and print every rule's conda environment (as written), its file and whether it
#: runs code
_RULES_PROGRAM = """
import json, sys
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings

snakefile, workdir, *configs = sys.argv[1:]
found = {}
for config in configs:
    with SnakemakeApi(OutputSettings()) as api:
        workflow = api.workflow(resource_settings=ResourceSettings(), snakefile=Path(snakefile), workdir=Path(workdir),
                                config_settings=ConfigSettings(configfiles=[Path(c) for c in config.split(",")]))._workflow
        found[config] = {rule.name: {"conda": rule.conda_env, "snakefile": rule.snakefile, "runs_code": not rule.norun}
                         for rule in workflow.rules}
print("RULES " + json.dumps(found, default=str))
"""


def rules_of(configs: list[Path], workdir: Path) -> dict[str, dict[str, dict]]:
    """{config: {rule: {"conda": as written, "snakefile": its file, "runs_code": bool}}} of the workflow loaded
    with each configuration (rules defined under a condition appear for the configurations that enable them); a
    configuration given as "a.yaml,b.yaml" is file b merged over file a."""
    import json

    proc = subprocess.run([sys.executable, "-c", _RULES_PROGRAM, str(ROOT / "Snakefile"), str(workdir),
                           *map(str, configs)], text=True, capture_output=True, timeout=900)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RULES ")), None)
    assert proc.returncode == 0 and line, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(line[len("RULES "):])
