"""Statistics, tables and figures of the study, on the project's runs or on the main paper's released tables.

- :mod:`.published`: the released CSVs as the project's collected tables (+ pinned download);
- :mod:`.features`, :mod:`.learners`, :mod:`.resampling`: rows, baselines, tuned learners, clustered intervals;
- :mod:`.ramanujan_density` (A1), :mod:`.prediction` (A2), :mod:`.importance` (A3), :mod:`.ranking` (A4);
- :mod:`.catalogue`: every analysis with its tables, figure and captions (the workflow's rules come from it);
- :mod:`.claims`, :mod:`.claim_catalogue`, :mod:`.claim_catalogue_related`, :mod:`.claims_report`: the claims of
  the studies, their decision rules and verdicts;
- :mod:`.figures`: one seaborn figure per function (PNG + PDF).
"""
