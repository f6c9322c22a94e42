"""The original study's topologies (Liu et al. 2020, Fig. 4): a pinned, sha256-checked download of folder ``topo/``
of github.com/Shiweiliuiiiiiii/Sparse_Topology_Distance, the fetch status the workflow reads, and the skip note
written when there is no network (the rest of the study runs; the reference figure is skipped, not failed)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..io import atomic_path, write_json
from .distance import TopologyError

log = logging.getLogger("sparsetopo.nnstd")

CHECKSUMS_FILE = Path(__file__).with_name("reference_checksums.json")
_EPOCH_DIR = re.compile(r"/epoch_(\d+)/")


def load_reference_checksums() -> dict[str, Any]:
    """The pinned repository, commit, raw-file base URL and sha256 of every file of ``topo/``."""
    return json.loads(CHECKSUMS_FILE.read_text())


def manifest_epochs(info: dict[str, Any] | None = None) -> list[int]:
    """Snapshot epochs present in the pinned release."""
    info = info or load_reference_checksums()
    return sorted({int(m.group(1)) for rel in info["files"] if (m := _EPOCH_DIR.search("/" + rel))})


def available_epochs(local: str | os.PathLike | None) -> list[int]:
    """Snapshot epochs of the reference topologies: of the local copy ``local`` (its first network), or of the
    pinned release when ``local`` is None. Raises TopologyError when the local folder is absent."""
    from .loading import reference_epochs, reference_networks

    if local is None:
        return manifest_epochs()
    if not Path(local).is_dir():
        raise TopologyError(f"folder {str(local)!r} does not exist; set it to a local copy of the `topo` folder of "
                            "github.com/Shiweiliuiiiiiii/Sparse_Topology_Distance, or to null to download the pinned "
                            "copy")
    return reference_epochs(reference_networks(local)[0])


def reference_files(epochs: Sequence[int] | None = None, info: dict[str, Any] | None = None) -> list[str]:
    """Files of the release needed for ``epochs`` (all when None): every network's layer files of those epochs and
    its ``testacc.txt``; an epoch that the release does not have raises :class:`TopologyError`."""
    info = info or load_reference_checksums()
    if epochs is None:
        return sorted(info["files"])
    missing = sorted(set(int(e) for e in epochs) - set(manifest_epochs(info)))
    if missing:
        raise TopologyError(f"nnstd.reference_epochs: epochs {missing} are not in the release; available "
                            f"{manifest_epochs(info)}")
    wanted = {int(e) for e in epochs}
    return sorted(rel for rel in info["files"]
                  if (m := _EPOCH_DIR.search("/" + rel)) is None or int(m.group(1)) in wanted)


def download_reference(dest: str | os.PathLike, epochs: Sequence[int] | None = None,
                       timeout: float = 30.0) -> Path:
    """Download the pinned files for ``epochs`` into ``dest`` (checked; files already there and correct are kept).

    No network: :class:`sparsetopo.analysis.published.DownloadError` with the plain offline message."""
    from ..analysis.published import download_pinned

    info = load_reference_checksums()
    return download_pinned(info, dest, info["folder"], "the reference NNSTD topologies of Liu et al. (2020)",
                           "nnstd.reference_topologies", "in the config: `nnstd: {reference_topologies: /path/to/topo}`",
                           files=reference_files(epochs, info), timeout=timeout)


def verify_reference(folder: str | os.PathLike, epochs: Sequence[int] | None = None) -> list[str]:
    """Files under ``folder`` (for ``epochs``) whose sha256 differs from the pinned one; missing files raise."""
    folder = Path(folder)
    info = load_reference_checksums()
    files = reference_files(epochs, info)
    missing = [rel for rel in files if not (folder / rel).is_file()]
    if missing:
        raise TopologyError(f"{folder}: not a copy of the `topo` folder of {info['repository']}; {len(missing)} "
                            f"files missing, e.g. {missing[0]}")
    return [rel for rel in files if hashlib.sha256((folder / rel).read_bytes()).hexdigest() != info["files"][rel]]


def local_status(folder: str | os.PathLike, epochs: Sequence[int] | None) -> tuple[dict[str, Any], list[str]]:
    """Status of a local copy (``nnstd.reference_topologies``) in the format of :func:`fetch_reference`, and the
    files for ``epochs`` that are missing from it or differ from the pinned sha256."""
    folder = Path(folder)
    info = load_reference_checksums()
    files = reference_files(epochs, info)
    mismatched = [rel for rel in files if not (folder / rel).is_file()
                  or hashlib.sha256((folder / rel).read_bytes()).hexdigest() != info["files"][rel]]
    for rel in mismatched[:5]:
        log.warning("%s: missing or different from the pinned release (sha256)", folder / rel)
    status = {"available": True, "reason": None, "source": f"the local copy {folder}", "folder": str(folder),
              "repository": info["repository"], "commit": info["commit"],
              "epochs": sorted(int(e) for e in epochs) if epochs else manifest_epochs(info), "files": len(files)}
    return status, mismatched


#: the workflow rule that downloads the reference topologies; ``snakemake --forcerun`` it to retry after an offline run
RETRY_RULE = "nnstd_reference_fetch"


def fetch_reference(dest: str | os.PathLike, epochs: Sequence[int] | None, status_path: str | os.PathLike,
                    skip_note_path: str | os.PathLike | None = None, timeout: float = 30.0) -> dict[str, Any]:
    """Download (or complete) the cached copy and write the fetch status JSON the workflow reads:
    ``available``, ``reason`` (the offline message, when not available), ``folder``, ``repository``, ``commit``,
    ``epochs`` and ``files``. Without network the status says so and nothing raises; a corrupt download still
    raises. Once the copy is complete, the skip note of an earlier offline attempt (``skip_note_path``) is
    removed."""
    from ..analysis.published import DownloadError

    info = load_reference_checksums()
    status: dict[str, Any] = {"folder": str(dest), "repository": info["repository"], "commit": info["commit"],
                              "epochs": sorted(int(e) for e in epochs) if epochs else manifest_epochs(info)}
    try:
        download_reference(dest, epochs, timeout)
    except DownloadError as exc:
        log.warning("reference NNSTD figure skipped: %s", exc)
        status.update(available=False, reason=str(exc), files=0)
    else:
        files = reference_files(epochs, info)
        log.info("%d pinned files present and verified in %s", len(files), dest)
        status.update(available=True, reason=None, files=len(files))
        if skip_note_path is not None and Path(skip_note_path).exists():
            Path(skip_note_path).unlink()
    write_json(status_path, status)
    return status


def status_inputs(status_path: str | os.PathLike, figure: Mapping[str, str],
                  skip_note_path: str | os.PathLike) -> dict[str, str]:
    """What the report page of the reference figure waits for, from the fetch status: the figure's files when the
    topologies are there, else the skip note."""
    with open(status_path) as fh:
        available = json.load(fh)["available"]
    return {"status": str(status_path), **(dict(figure) if available else {"skipped": str(skip_note_path)})}


def skip_note(status: dict[str, Any], figure: str) -> str:
    """Markdown note for a user: what was skipped (``figure``), why, and the ways to get the reference figure."""
    return (
        "# NNSTD reference figure skipped\n\n"
        "The topologies of the original study (Liu et al., *Topological Insights into Sparse Neural Networks*, "
        "ECML-PKDD 2020, Fig. 4) could not be downloaded, so the reference NNSTD figure "
        f"(`{figure}`) was not made. The rest of the study ran normally.\n\n"
        f"Reason: {status.get('reason')}\n\n"
        "To get the figure, either\n\n"
        f"- with network access, retry the download: `snakemake --forcerun {RETRY_RULE}` with the same options "
        "as before (the workflow does not retry by itself, so that an offline study stays up to date); the copy "
        f"is cached in `{status.get('folder')}` ({status.get('repository')} at commit {status.get('commit')}, "
        "every file sha256-checked), or\n"
        "- set `nnstd: {reference_topologies: /path/to/topo}` in the config to a local copy of that `topo` folder, "
        "or `nnstd: {reference: false}` to leave the reference figure out.\n")


def write_status_html(path: str | os.PathLike, status: dict[str, Any], mismatched: Sequence[str] = ()) -> None:
    """A small HTML page for the report: where the reference topologies came from, or why the figure is missing."""
    import html

    if status.get("available"):
        body = (f"<p>Reference NNSTD figure made from {html.escape(str(status.get('source', 'the pinned copy')))}: "
                f"{html.escape(str(status.get('repository')))} at commit <code>{html.escape(str(status.get('commit')))}"
                f"</code>, folder <code>topo/</code>, epochs {status.get('epochs')}, {status.get('files')} files.</p>")
        if mismatched:
            body += (f"<p><b>{len(mismatched)} files differ from the pinned sha256</b>, e.g. "
                     f"<code>{html.escape(mismatched[0])}</code>.</p>")
        else:
            body += "<p>Every file matches its pinned sha256.</p>"
    else:
        body = ("<p><b>Skipped:</b> the reference NNSTD figure was not made because the topologies of the original "
                f"study could not be downloaded.</p><p>{html.escape(str(status.get('reason')))}</p>"
                f"<p>With network access, retry the download with <code>snakemake --forcerun {RETRY_RULE}</code> "
                "(the workflow does not retry by itself), or set <code>nnstd.reference_topologies</code> to a local "
                "copy of the <code>topo</code> folder.</p>")
    with atomic_path(path) as tmp:
        tmp.write_text(f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>NNSTD reference</title></head>"
                       f"<body>{body}</body></html>\n")
