"""Atomic writes: the new content is flushed to the disk (fsync of the temporary file) before it is renamed onto
the artifact's name, so that a crash leaves the old artifact or the complete new one, never an empty file."""

from __future__ import annotations

import os

import pytest

from sparsetopo.io import atomic_path, write_json


def test_temporary_file_is_synced_before_the_rename(tmp_path, monkeypatch):
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src, dst):
        events.append(("replace", str(src)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    target = tmp_path / "record.json"
    write_json(target, {"accuracy": 0.5})
    assert [kind for kind, _ in events] == ["fsync", "replace"]
    assert events[0][1] == events[1][1] and events[0][1] != str(target)  # the temporary file, then its rename
    assert target.read_text().strip().startswith("{") and not list(tmp_path.glob(".record.json.*"))


def test_failed_block_leaves_no_file_and_no_sync(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(os, "fsync", lambda fd: calls.append(fd))
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "table.parquet") as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("killed")
    assert calls == [] and list(tmp_path.iterdir()) == []
