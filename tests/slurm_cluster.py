"""A throw-away single-node SLURM cluster for the tests (Debian's ``slurm-wlm`` + ``munge``).

Everything lives in one temporary directory: the munge key and socket, ``slurm.conf`` / ``gres.conf``, the state and
spool directories, the daemons' logs. The three daemons (``munged``, ``slurmctld``, ``slurmd``) run in the foreground
as children of the test process, are recorded by process id and stopped by those ids only. Nothing under /etc, /run
or /var is touched. The packages are installed with apt-get only when the environment variable
``SPARSETOPO_INSTALL_SLURM=1`` allows it (``.ci/run`` sets it; see :func:`ensure_slurm`): a user's test command
never changes their system without being asked to.

The node is ``localhost`` with ``cpus`` CPUs, a generous configured memory and ``gpus`` GPUs that are pure scheduling
tokens (gres ``gpu`` bound to /dev/null, /dev/zero, ...), so that ``sbatch --gpus=1`` is accepted and scheduled on a
machine without a GPU. ``SlurmdParameters=config_overrides`` keeps the node usable when the host has fewer CPUs or
less memory than configured. There is no accounting (no slurmdbd): ``sacct`` cannot answer, so job status must come
from ``squeue`` (finished jobs stay visible for ``MinJobAge`` seconds).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

SBIN_PATH = "/usr/local/sbin:/usr/sbin:/sbin"
DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "squeue", "sinfo", "scontrol", "srun", "scancel")
PACKAGES = ("slurm-wlm", "munge")
#: set to 1 to let the SLURM tests install PACKAGES with apt-get (root, Debian/Ubuntu) when they are missing
INSTALL_ENV = "SPARSETOPO_INSTALL_SLURM"
ENABLE_HINT = (f"to run the SLURM tests, install them (apt-get install {' '.join(PACKAGES)}) or set {INSTALL_ENV}=1 "
               f"to let the tests install them (needs root and apt-get; .ci/run sets it)")
GPU_TOKENS = ("/dev/null", "/dev/zero", "/dev/full")  # device files standing in for GPUs (at most 3)


def _which(name: str) -> str | None:
    return shutil.which(name, path=os.environ.get("PATH", "") + os.pathsep + SBIN_PATH)


def missing_programs() -> list[str]:
    """SLURM and munge programs that cannot be found (daemons are looked up in the sbin directories too)."""
    return [name for name in DAEMONS + CLIENTS if _which(name) is None]


def install_allowed() -> bool:
    """Whether the user allowed the tests to install system packages (``SPARSETOPO_INSTALL_SLURM=1``)."""
    return os.environ.get(INSTALL_ENV, "").strip() == "1"


def ensure_slurm(install: bool | None = None, timeout: float = 900) -> str | None:
    """Make sure slurm-wlm and munge are installed; returns None when usable, else the reason why not (with how to
    enable the SLURM tests).

    When programs are missing and ``install`` is true, runs ``apt-get update && apt-get install -y slurm-wlm munge``
    (needs root and a reachable Debian/Ubuntu package mirror). ``install=None`` (default) means: only when the
    environment variable ``SPARSETOPO_INSTALL_SLURM=1`` is set.
    """
    missing = missing_programs()
    if not missing:
        return None
    if install is None:
        install = install_allowed()
    if not install:
        return f"SLURM programs not found: {', '.join(missing)}; {ENABLE_HINT}"
    if os.geteuid() != 0:
        return f"SLURM programs not found ({', '.join(missing)}) and not root, cannot apt-get install {PACKAGES}"
    apt = _which("apt-get")
    if apt is None:
        return f"SLURM programs not found ({', '.join(missing)}) and no apt-get to install {PACKAGES}"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in ([apt, "update", "-q"], [apt, "install", "-y", "-q", "--no-install-recommends", *PACKAGES]):
        try:
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return f"`{' '.join(cmd)}` timed out after {timeout:.0f} s"
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            return f"`{' '.join(cmd)}` failed (exit {proc.returncode}): {' | '.join(tail)}"
    missing = missing_programs()
    return f"still missing after apt-get install: {', '.join(missing)}" if missing else None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class SlurmCluster:
    """A single-node SLURM cluster rooted at ``root`` (a fresh directory). Use as a context manager."""

    root: Path
    cpus: int = 2
    memory_mb: int = 64000
    gpus: int = 1
    partition: str = "debug"
    min_job_age: int = 600
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root = Path(self.root).resolve()
        self.conf = self.root / "etc" / "slurm.conf"
        self.munge_socket = self.root / "munge" / "munge.socket"
        if not 1 <= self.gpus <= len(GPU_TOKENS):
            raise ValueError(f"gpus must be 1..{len(GPU_TOKENS)}, got {self.gpus}")

    # -- configuration -------------------------------------------------------------------------------------------
    @property
    def env(self) -> dict[str, str]:
        """Environment for SLURM clients (sbatch, squeue, ...): SLURM_CONF points at this cluster, and PATH starts
        with this cluster's bin/ (the ``srun`` wrapper, see :meth:`write_config`)."""
        path = os.environ.get("PATH", "")
        return {**os.environ, "SLURM_CONF": str(self.conf),
                "PATH": f"{self.root / 'bin'}{os.pathsep}{path}{os.pathsep}{SBIN_PATH}"}

    def write_config(self) -> None:
        for sub in ("etc", "state", "spool", "log", "munge"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(self.root / "munge", 0o755)
        key = self.root / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        os.chmod(key, 0o400)
        ctld_port = slurmd_port = free_port()
        while slurmd_port == ctld_port:
            slurmd_port = free_port()
        r = self.root
        lines = [
            "ClusterName=sparsetopo",
            "SlurmctldHost=localhost(127.0.0.1)",
            f"SlurmctldPort={ctld_port}",
            f"SlurmdPort={slurmd_port}",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            f"AuthInfo=socket={self.munge_socket}",
            "SlurmUser=root",
            "SlurmdUser=root",
            f"StateSaveLocation={r}/state",
            f"SlurmdSpoolDir={r}/spool",
            f"SlurmctldPidFile={r}/slurmctld.pid",
            f"SlurmdPidFile={r}/slurmd.pid",
            f"SlurmctldLogFile={r}/log/slurmctld.log",
            f"SlurmdLogFile={r}/log/slurmd.log",
            "SlurmctldDebug=info",
            "SlurmdDebug=info",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/affinity",
            "JobAcctGatherType=jobacct_gather/none",
            "AccountingStorageType=accounting_storage/none",
            "JobCompType=jobcomp/none",
            "MpiDefault=none",
            "SwitchType=switch/none",
            "SchedulerType=sched/builtin",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core",
            "SlurmdParameters=config_overrides",
            "ReturnToService=2",
            f"MinJobAge={self.min_job_age}",
            "KillWait=5",
            "InactiveLimit=0",
            "GresTypes=gpu",
            f"NodeName=localhost NodeAddr=127.0.0.1 CPUs={self.cpus} RealMemory={self.memory_mb} "
            f"Gres=gpu:{self.gpus} State=UNKNOWN",
            f"PartitionName={self.partition} Nodes=localhost Default=YES MaxTime=INFINITE State=UP",
        ]
        self.conf.write_text("\n".join(lines) + "\n")
        # the GPUs are scheduling tokens bound to harmless character devices (gres/gpu ignores a Count= line without
        # File=), enough for `sbatch --gpus=1` / `--gres=gpu:1` on a host without a GPU
        (self.conf.parent / "gres.conf").write_text(
            "".join(f"NodeName=localhost Name=gpu File={dev}\n" for dev in GPU_TOKENS[: self.gpus]))
        # Inside a job, snakemake's slurm-jobstep executor removes every SLURM_* variable except the job's identity
        # (SLURM_CONF included) before it calls `srun`. Real clusters keep slurm.conf at its default path
        # (/etc/slurm) or run configless, so they do not notice; this cluster lives in a temporary directory, so an
        # `srun` wrapper (first on the PATH given to the jobs) puts SLURM_CONF back and runs the real srun.
        real_srun = _which("srun")
        if real_srun is None:
            raise RuntimeError("srun not found; install slurm-wlm")
        wrapper = self.root / "bin" / "srun"
        wrapper.parent.mkdir(exist_ok=True)
        wrapper.write_text(f'#!/bin/sh\nSLURM_CONF="{self.conf}" exec "{real_srun}" "$@"\n')
        os.chmod(wrapper, 0o755)

    # -- daemons -------------------------------------------------------------------------------------------------
    def _spawn(self, name: str, args: list[str]) -> None:
        exe = _which(name)
        if exe is None:
            raise RuntimeError(f"{name} not found; install slurm-wlm and munge")
        log = open(self.root / "log" / f"{name}.out", "ab")
        self.processes[name] = subprocess.Popen([exe, *args], stdout=log, stderr=subprocess.STDOUT,
                                                stdin=subprocess.DEVNULL, env=self.env, start_new_session=True)
        log.close()

    def _check_alive(self) -> None:
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{self.logs(name)}")

    def logs(self, name: str | None = None, lines: int = 30) -> str:
        """The last lines of the daemons' logs (all of them when ``name`` is None)."""
        out = []
        for path in sorted((self.root / "log").glob("*")):
            if name is None or path.name.startswith(name):
                text = path.read_text(errors="replace").splitlines()[-lines:]
                out.append(f"--- {path.name}\n" + "\n".join(text))
        return "\n".join(out)

    def run(self, *args: str, check: bool = True, timeout: float = 30) -> str:
        """Run a SLURM client command against this cluster and return its stdout."""
        proc = subprocess.run(list(args), env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise RuntimeError(f"`{' '.join(args)}` failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc.stdout

    def start(self, timeout: float = 60) -> None:
        """Write the configuration, start munged, slurmctld and slurmd, wait until the node is idle."""
        self.write_config()
        r = self.root / "munge"
        self._spawn("munged", ["--foreground", "--force", f"--socket={self.munge_socket}",
                               f"--key-file={r / 'munge.key'}", f"--pid-file={r / 'munged.pid'}",
                               f"--seed-file={r / 'munged.seed'}", f"--log-file={self.root / 'log' / 'munged.log'}"])
        deadline = time.monotonic() + timeout
        while not self.munge_socket.exists():
            self._check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError(f"munged did not create {self.munge_socket}:\n{self.logs()}")
            time.sleep(0.1)
        self._spawn("slurmctld", ["-D", "-c", "-f", str(self.conf)])
        self._spawn("slurmd", ["-D", "-N", "localhost", "-f", str(self.conf)])
        while True:
            self._check_alive()
            state = self.run("sinfo", "--noheader", "--nodes=localhost", "--format=%t", check=False).strip()
            if state == "idle":
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"node not idle after {timeout:.0f} s (sinfo state {state!r}):\n{self.logs()}")
            time.sleep(0.5)

    def stop(self) -> None:
        """Cancel this cluster's jobs still running, then stop the daemons by their process ids (TERM, then KILL
        after 10 s); slurmd first, munged last."""
        ctld = self.processes.get("slurmctld")
        if ctld is not None and ctld.poll() is None:
            try:
                ids = self.run("squeue", "--noheader", "--states=PENDING,RUNNING", "--format=%A", check=False).split()
                if ids:
                    self.run("scancel", "--full", *ids, check=False)
                    deadline = time.monotonic() + 20
                    while time.monotonic() < deadline and self.run(
                            "squeue", "--noheader", "--states=PENDING,RUNNING,COMPLETING", "--format=%A",
                            check=False).split():
                        time.sleep(0.5)
            except (subprocess.SubprocessError, OSError):
                pass
        for name in ("slurmd", "slurmctld", "munged"):
            proc = self.processes.pop(name, None)
            if proc is None or proc.poll() is not None:
                continue
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)

    def __enter__(self) -> "SlurmCluster":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
