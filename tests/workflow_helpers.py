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
