"""README's plain-words verdicts, generated from a study's claims table (never written by hand).

Usage: .venv/bin/python docs/scripts/readme_claims.py STUDY [STUDY ...]

Copies results/<study>/tables/claims.csv to docs/results/<study>-claims.csv (the committed record of that run)
and rewrites README.md's block between ``<!-- claims:<study> -->`` and ``<!-- /claims:<study> -->`` with
sparsetopo.analysis.claims_report.plain_summary of it; tests/test_readme.py checks that the two agree.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from sparsetopo.analysis.claims_report import plain_summary, read_claims_csv, summary_block

ROOT = Path(__file__).resolve().parents[2]


def main(studies: list[str]) -> None:
    readme = ROOT / "README.md"
    text = readme.read_text()
    for study in studies:
        record = ROOT / "docs" / "results" / f"{study}-claims.csv"
        record.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / "results" / study / "tables" / "claims.csv", record)
        text = summary_block(text, study, plain_summary(read_claims_csv(record)))
        print(f"README.md: verdicts of {study} from {record.relative_to(ROOT)}")
    readme.write_text(text)


if __name__ == "__main__":
    main(sys.argv[1:])
