"""README's plain-words verdicts are generated from the committed claims tables (docs/scripts/readme_claims.py),
so that the prose and the tables cannot drift apart."""

import re
from pathlib import Path

import pytest

from sparsetopo.analysis.claims_report import plain_summary, read_claims_csv, summary_block

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
STUDIES = re.findall(r"^<!-- claims:([\w-]+) -->$", README, re.M)


def test_readme_has_the_verdicts_of_the_deciding_studies():
    assert {"paper-data", "topology-intervention-confirmation"} <= set(STUDIES), STUDIES


@pytest.mark.parametrize("study", STUDIES)
def test_readme_block_is_the_plain_summary_of_its_claims_table(study):
    record = ROOT / "docs" / "results" / f"{study}-claims.csv"
    assert record.is_file(), f"{record} missing: run docs/scripts/readme_claims.py {study} after the study"
    table = read_claims_csv(record)
    assert summary_block(README, study) == plain_summary(table), (
        f"README's block of {study} differs from its claims table: run docs/scripts/readme_claims.py {study}")
    assert table["verdict"].is_in(["supported", "not supported", "inconclusive"]).all()
