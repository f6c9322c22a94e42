"""Memory of the running process, for the benchmark scripts (Linux /proc)."""

from __future__ import annotations


def status(key: str) -> float:
    """A /proc/self/status field (VmRSS, VmHWM, ...) in bytes; NaN where there is none."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key):
                return int(line.split()[1]) * 1024.0
    return float("nan")


def reset_peak() -> None:
    """Reset the process's peak resident set (VmHWM) to its current size, where the kernel allows it."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass
