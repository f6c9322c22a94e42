"""The configuration a stage reads, as a dict that refuses keys it was not given (no imports: every stage,
analysis included, can use it without depending on the others)."""

from __future__ import annotations


class StageConfig(dict):
    """A dict whose ``get``/``[]`` of a top-level key it does not hold raise (inside a section it holds, missing
    keys keep their usual meaning: the default)."""

    def __missing__(self, key):
        raise KeyError(f"config key {key!r} is read but not part of this stage's configuration; add it in "
                       f"sparsetopo.stages.params.stage_config so that the rule tracks it")

    def get(self, key, default=None):
        return self[key]
