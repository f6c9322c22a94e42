"""The study's stages as plain functions, one module per workflow stage (so that each stage's code fingerprint,
:func:`sparsetopo.provenance.code_fingerprint`, covers exactly the code it runs):

- :mod:`.data`: materialise a dataset; :mod:`.train`: prune then train one run; :mod:`.measure`: encode one run's
  network as graphs and measure them;
- :mod:`.run`: the keys of a run; :mod:`.common`: model building and checkpoint loading shared by the stages;
- :mod:`.params`: the part of the configuration each stage reads (what its rule tracks as params).

Workflow scripts and the CLI call these; each reads its inputs, writes its outputs atomically, and returns a small
summary. Nothing here imports snakemake.
"""
