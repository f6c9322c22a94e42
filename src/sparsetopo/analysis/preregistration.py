"""Pre-registration that can be checked: which decision rules decided a study's verdicts, where they were written
down, and whether they changed after the study's verdicts were first written.

The decision rules and primary comparisons of a study are its configuration's ``claims`` section (in the study's
YAML file under ``config/``). Every claims job records the digest of those rules (sha256 of their canonical JSON),
and each configuration file's sha256, the git commit that last changed it and whether the working copy differs
from that commit. A ledger beside the study's results (``results/<study>/preregistration/ledger.json``) keeps, for
every set of rules that ever decided the study, when its verdicts were first written and those first verdicts
(``verdicts-<digest>.csv``). When the current rules are not the first ones, the report says so and shows the
earlier verdicts: the rules cannot silently change after the results were seen.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any, Mapping, Sequence

import polars as pl

from ..io import atomic_path


def rules_digest(rules: Mapping[str, Any]) -> str:
    """sha256 of the rules' canonical JSON (sorted keys)."""
    return hashlib.sha256(json.dumps(rules, sort_keys=True, default=str).encode()).hexdigest()


def _git(folder: Path, *args: str) -> tuple[int, str]:
    try:
        done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return 1, ""
    return done.returncode, done.stdout.strip()


def file_record(path: str | Path) -> dict[str, Any]:
    """sha256 of ``path``, the git commit that last changed it (None outside git or untracked) and whether the
    working copy differs from that commit."""
    path = Path(path)
    record: dict[str, Any] = {"path": str(path), "sha256": None, "commit": None, "modified": None}
    if not path.is_file():
        return record
    record["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    folder = path.resolve().parent
    code, commit = _git(folder, "log", "-1", "--format=%H", "--", path.resolve().name)
    if code == 0 and commit:
        record["commit"] = commit
        code, _ = _git(folder, "diff", "--quiet", commit, "--", path.resolve().name)
        record["modified"] = code != 0
    return record


def update_ledger(folder: str | Path, digest: str, sources: Sequence[Mapping[str, Any]],
                  summary: pl.DataFrame) -> dict[str, Any]:
    """Add the current rules to the ledger in ``folder`` if they are new (with these verdicts as their first), and
    return the pre-registration record: current digest and sources, when these rules first decided the study,
    whether earlier rules did, and those earlier rules' first verdicts (path and rows)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ledger_path = folder / "ledger.json"
    ledger = json.loads(ledger_path.read_text()) if ledger_path.exists() else []
    if not any(entry["digest"] == digest for entry in ledger):
        verdicts = folder / f"verdicts-{digest[:12]}.csv"
        with atomic_path(verdicts) as tmp:
            summary.select("claim", "verdict", "note").write_csv(tmp)
        ledger.append({"digest": digest, "first_written": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                       "sources": list(sources), "verdicts": verdicts.name})
        with atomic_path(ledger_path) as tmp:
            tmp.write_text(json.dumps(ledger, indent=2) + "\n")
    for entry in ledger:
        path = folder / entry["verdicts"]
        entry["rows"] = pl.read_csv(path).to_dicts() if path.exists() else []
    current = next(entry for entry in ledger if entry["digest"] == digest)
    earlier = [entry for entry in ledger if entry["digest"] != digest]
    now = {(r["claim"], r["verdict"]) for r in summary.select("claim", "verdict").iter_rows(named=True)}
    changed = {(r["claim"], r["verdict"]) for r in current["rows"]} != now
    if changed:  # same rules, other verdicts: the analysis code or the data changed since the rules first decided
        earlier.insert(0, {**current, "same_rules": True})
    return {"rules_digest": digest, "sources": list(sources), "first_written": current["first_written"],
            "first_sources": current["sources"], "first_rules": ledger[0]["digest"] == digest,
            "verdicts_changed": changed, "earlier": earlier}


def preregistration_text(record: Mapping[str, Any]) -> list[str]:
    """Sentences for the report: where the rules are, their digest and commit, and whether they changed after the
    study's first verdicts."""
    lines = []
    for source in record["sources"]:
        state = ("not under git" if source.get("commit") is None else
                 f"last committed in {source['commit'][:10]}" + (", modified since" if source.get("modified") else ""))
        lines.append(f"Decision rules: the ``claims`` section of ``{source['path']}`` (sha256 "
                     f"{str(source.get('sha256'))[:12]}…, {state}); rules digest {record['rules_digest'][:12]}.")
    if record.get("verdicts_changed"):
        lines.append(f"Under these same rules the verdicts differ from those first written ({record['first_written']}):"
                     " the analysis code or the data changed since; the first verdicts follow.")
    other = [entry for entry in record["earlier"] if not entry.get("same_rules")]
    if record["first_rules"] and not other:
        lines.append("These are the only rules that have decided this study's verdicts.")
    else:
        first = other[0] if other else None
        lines.append("The decision rules changed after this study's verdicts were first written"
                     + (f" (first rules {first['digest'][:12]}, kept with their verdicts in "
                        f"preregistration/{first['verdicts']})" if first else "") + "; the earlier verdicts follow.")
    return lines
