"""Code fingerprints per run: a pruning/training job's fingerprint covers the shared code plus the module of its own
pruner (imported by name on first use), so editing one pruner's module reruns only that pruner's runs; no import
cycle runs through the pruners or the training code (the workflow's counts: the rerun matrix of test_workflow.py)."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import pytest

import sparsetopo.pruning as pruning
from sparsetopo.provenance import _module_file, _parsed, code_fingerprint, module_closure

PER_MODULE = {"saliency": ["snip", "synflow", "grasp", "magnitude", "prospr"], "random_masks": ["er", "erk", "dense"],
              "dynamic.random_growth": ["set", "dsr"], "dynamic.gradient_growth": ["rigl", "itop"]}


def test_the_table_names_the_module_of_every_registered_pruner():
    """PRUNER_MODULES (read by provenance from the source) lists exactly the pruners the package's modules register,
    each with the module that registers it: a new pruner's module must be listed there, or it is never imported."""
    for info in pkgutil.walk_packages(pruning.__path__, prefix="sparsetopo.pruning."):
        importlib.import_module(info.name)
    registered = {name: pruning.PRUNERS.get(name).prune.__module__ for name in pruning.PRUNERS._items}
    declared = {name: f"sparsetopo.pruning.{module}" for name, module in pruning.PRUNER_MODULES.items()}
    assert registered == declared


def test_looking_a_pruner_up_imports_its_module_only():
    program = ("import sys; from sparsetopo.pruning import PRUNERS; assert PRUNERS.get('snip').needs_data; "
               "print(sorted(m for m in sys.modules if m.startswith('sparsetopo.pruning.')))")
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=600, check=True)
    assert out.stdout.strip() == "['sparsetopo.pruning.core', 'sparsetopo.pruning.saliency']"


def test_unknown_pruner_lists_every_known_one_without_importing_them():
    from sparsetopo.registry import UnknownNameError

    with pytest.raises(UnknownNameError, match="known pruners: .*rigl.*snip.*spline_global"):
        pruning.PRUNERS.get("snp")
    assert "slimming" in pruning.PRUNERS and "snp" not in pruning.PRUNERS


def test_a_run_fingerprint_covers_its_own_pruner_only():
    pruner_modules = {f"sparsetopo.pruning.{m}" for m in set(pruning.PRUNER_MODULES.values())}
    for module, names in PER_MODULE.items():
        prints = {code_fingerprint("train", name)["fingerprint"] for name in names}
        assert len(prints) == 1, module  # pruners of one module share a fingerprint
        covered = set(code_fingerprint("train", names[0])["modules"]) & pruner_modules
        assert f"sparsetopo.pruning.{module}" in covered
        assert not covered & {f"sparsetopo.pruning.{m}" for m in PER_MODULE if m != module and m != "random_masks"}
    assert len({code_fingerprint("train", names[0])["fingerprint"] for names in PER_MODULE.values()}) == 4
    # dynamic pruners start from a static mask: their runs also cover random_masks.py, and the shared dynamic base
    assert {"sparsetopo.pruning.random_masks", "sparsetopo.pruning.dynamic.base"} <= set(
        code_fingerprint("train", "set")["modules"])
    # slimming scores weights with spline's helper: editing spline.py reruns slimming too
    assert "sparsetopo.pruning.spline" in code_fingerprint("prune", "slimming")["modules"]
    with pytest.raises(ValueError, match="needs the run's pruner"):
        code_fingerprint("train")


def _import_graph() -> dict[str, set[str]]:
    package = _module_file("sparsetopo").parent
    modules = ["sparsetopo" + ("." + ".".join(p.relative_to(package).with_suffix("").parts)).removesuffix(".__init__")
               for p in package.rglob("*.py")]
    return {m: set(_parsed(m)[1]) for m in modules}


def test_no_import_cycle_through_the_pruners_or_the_training_code():
    """Deferred imports included (they are what the fingerprint follows): the former cycle pruning -> slimming ->
    training -> pruning made every run's fingerprint cover every pruner."""
    graph = _import_graph()
    ours = [m for m in graph if m.startswith(("sparsetopo.pruning", "sparsetopo.training", "sparsetopo.sgd"))]
    for start in ours:
        seen, todo = set(), list(graph[start])
        while todo:
            module = todo.pop()
            assert module != start, f"import cycle through {start}"
            if module not in seen:
                seen.add(module)
                todo += graph.get(module, ())


def test_reading_the_configuration_does_not_take_in_the_training_code():
    """stages.params (imported by the workflow and by every analysis) resolves the training section through the
    torch-free training_settings, so the analyses' fingerprints do not cover the training loop or the pruners."""
    closure = set(module_closure(["sparsetopo.stages.params"]))
    assert "sparsetopo.training_settings" in closure
    assert not {m for m in closure if m.startswith("sparsetopo.pruning")}
    assert not closure & {"sparsetopo.training", "sparsetopo.training_state", "sparsetopo.sgd", "sparsetopo.models"}
