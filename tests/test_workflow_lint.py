"""The workflow as a Snakemake user checks it, for every shipped configuration: ``snakemake --lint`` passes, the rule
files are snakefmt-formatted (the pinned snakefmt, [tool.snakefmt] of pyproject.toml), and every rule that runs code
names the one environment file, environment.yml, which is self-contained (tests/test_install.py checks its pins).
Each check runs the workflow from another working directory (``-s <repo>/Snakefile -d <tmp>``)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from workflow_helpers import ROOT, SNAKEMAKE, rules_of

CONFIGS = sorted((ROOT / "config").glob("*.yaml"))


def test_every_shipped_config_is_checked():
    assert {c.name for c in CONFIGS} >= {"config.yaml", "paper.yaml", "paper-data.yaml", "test.yaml"}
    overlay = ROOT / "config" / "topology-intervention-pilot.yaml"
    assert config_files(overlay) == [ROOT / "config" / "topology-intervention.yaml", overlay]
    assert config_files(ROOT / "config" / "paper-data.yaml") == [ROOT / "config" / "paper-data.yaml"]


def config_files(config: Path) -> list[Path]:
    """The files a shipped config is used with: itself, or, for an overlay such as ``<study>-pilot.yaml`` (no
    ``datasets`` key of its own), its study's file first."""
    bases = [c for c in CONFIGS if config.stem.startswith(c.stem + "-")]
    if bases and "\ndatasets:" not in "\n" + config.read_text():
        return [max(bases, key=lambda c: len(c.stem)), config]
    return [config]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.name)
def test_lint_is_clean(config, tmp_path):
    proc = subprocess.run([*SNAKEMAKE, "-s", str(ROOT / "Snakefile"), "-d", str(tmp_path), "--lint",
                           "--configfile", *map(str, config_files(config))], cwd=tmp_path, text=True,
                          capture_output=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "Congratulations, your workflow is in a good condition!" in out, out[-4000:]


def test_rule_files_are_snakefmt_formatted():
    import sys

    proc = subprocess.run([sys.executable, "-m", "snakefmt", "--check", "--diff", "Snakefile", "workflow/"],
                          cwd=ROOT, text=True, capture_output=True, timeout=300)
    assert proc.returncode == 0, f"run `snakefmt Snakefile workflow/`:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"


def test_every_rule_that_runs_code_names_environment_yml(tmp_path):
    """Under every shipped configuration (so every rule, conditional ones included): each rule that runs code has a
    conda environment, and it resolves, from the rule's own file as Snakemake reads it, to environment.yml."""
    seen = set()
    for config, rules in rules_of([",".join(map(str, config_files(c))) for c in CONFIGS], tmp_path).items():
        for name, rule in rules.items():
            if not rule["runs_code"]:
                continue
            assert rule["conda"], f"rule {name} ({Path(config).name}) runs code without a conda environment"
            env = (Path(rule["snakefile"]).parent / rule["conda"]).resolve()
            assert env == ROOT / "environment.yml", (name, env)
            seen.add(name)
    # the rules that only some configurations define are among them
    assert {"train", "prune", "published_tables", "figure_mge_drawing", "earlybird_search", "audit"} <= seen
