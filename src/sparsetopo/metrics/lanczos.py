"""The Lanczos recurrence behind every spectral metric, independent of how its products are computed (the
explicit CSR kernels of ``spectral``, the convolutions of ``implicit_products``).

Small graphs (N <= ``DENSE_EIG_MAX``) get exact dense float64 eigenvalues. Larger ones use the Lanczos
recurrence without stored basis (Cullum & Willoughby, *Lanczos Algorithms for Large Symmetric Eigenvalue
Computations*, 1985): memory O(N) (four vectors per operator), one product and two vector passes per step,
float64 vectors (A's float32 weights are the matrix, exactly), a start vector drawn from
``np.random.default_rng(seed)``. Without reorthogonalisation, copies ("ghosts") of converged eigenvalues appear;
they are told apart by the Cullum-Willoughby test: a Ritz value of the tridiagonal T_m that is numerically
multiple is one eigenvalue, and a simple one that is also an eigenvalue of T_m without its first row and column
is spurious. The recurrences on A (or B Bᵀ) and on L run side by side, their products computed together.

Tolerance and bounded work. After every step (every 1 + m // ``CHECK_STEPS`` steps once T_m is large) the good Ritz
values θ_i are computed with their residual bounds r_i = β_m |s_{m,i}| (there is an eigenvalue within r_i of θ_i).
The iteration stops when every value a metric reads is within ``SPECTRAL_TOL`` · max|θ| of an eigenvalue (A: λ1, λ2
and the three of largest magnitude; L: its largest; B Bᵀ: s1², s2², with the bound carried to s: |s − √θ| <= √θ −
√(θ − r), against 1e-4 of s1, the same guarantee on A's eigenvalues), the largest Ritz value has reached a rigorous
lower bound of λ1 (max row norm of A, max diagonal of L; Ritz values never exceed λ1), and, for A and B Bᵀ, the
candidates next to the read values that no metric reads (the third largest and, for A, the three smallest) have
converged too or are told apart from them: θ + r lies below the smallest read top value minus its bound (and |θ| + r
below the smallest read magnitude), so that λ2 is not taken for λ3. The stopping point is the earlier of the two, so
neither a tiny gap inside the bulk below the read values nor a tiny gap between a read value and its neighbour
delays it (ResNet-20 at sparsity 0.9: 20 steps on A and 4 on L instead of the 34 and 13 that converging the
neighbours takes; ResNet-18 ER at 0.99: the top of L is a cluster of nearly equal hub eigenvalues, which took 245
steps to resolve and is not needed). Measured errors of the read values are far below the bound: 2e-8 of the scale
on ResNet-20 and 6e-8 on WRN-28-2 at sparsity 0.9 against ARPACK at 1e-12. Values converge at a rate set by the
spectrum's width over the *tolerance* (about sqrt(width / (tol·scale)) steps, a few hundred at most), so graphs
whose top eigenvalues are nearly equal (the bulk edge of pruned random layers: gaps of 1e-3 relative) converge in a
bounded number of steps; ``MAX_STEPS`` caps the work (a warning reports the bounds reached). A value of multiplicity
> 1 is seen once (as by any single-vector Krylov method).
"""

from __future__ import annotations

import logging
import time
from typing import Callable

import numpy as np
from numba import njit
from scipy.linalg import eigh_tridiagonal

from .kernels import BLOCKS
from .tasks import run_blocks

log = logging.getLogger("sparsetopo.metrics")

#: Graphs with at most this many nodes get exact dense eigenvalues (numpy ``eigvalsh``).
DENSE_EIG_MAX = 500
#: Residual bound of every reported eigenvalue, relative to the largest |eigenvalue|.
SPECTRAL_TOL = 1e-4
#: Convergence is checked after every step while T_m has fewer than this many rows, then every 1 + m // CHECK_STEPS
#: steps (the check costs O(m²)); at most MAX_STEPS steps (matrix-vector products) per operator.
CHECK_STEPS = 50
MAX_STEPS = 3000
#: Relative tolerance (to ||T||) of the Cullum-Willoughby multiplicity and spuriousness tests.
CW_TOL = 1e-10


@njit(cache=True)
def _ordered_sum(x):
    """Σ x in index order (inside parallel kernels numba would parallelise ``x.sum()``, whose result then
    depends on the number of threads)."""
    total = 0.0
    for i in range(len(x)):
        total += x[i]
    return total


@njit(cache=True, nogil=True)
def _recurrence_sums(b_lo, b_hi, q, q_prev, w, alpha, beta, dots, norms):
    """w <- w − α q − β q_prev on the blocks b_lo..b_hi; each block's q·w and ||w||² in ``dots``, ``norms``."""
    n = len(q)
    for b in range(b_lo, b_hi):
        acc = 0.0
        nrm = 0.0
        for r in range(b * n // BLOCKS, (b + 1) * n // BLOCKS):
            v = w[r] - alpha * q[r] - beta * q_prev[r]
            w[r] = v
            acc += q[r] * v
            nrm += v * v
        dots[b] = acc
        norms[b] = nrm


@njit(cache=True, nogil=True)
def _recurrence_scale(b_lo, b_hi, q, w, c, inv):
    """w <- (w − c q) · inv on the blocks b_lo..b_hi."""
    n = len(q)
    for b in range(b_lo, b_hi):
        for r in range(b * n // BLOCKS, (b + 1) * n // BLOCKS):
            w[r] = (w[r] - c * q[r]) * inv


def _recurrence(q: np.ndarray, q_prev: np.ndarray, w: np.ndarray, alpha: float, beta: float) -> tuple[float, float]:
    """w <- (w − α q − β q_prev − c q) / β' with the local reorthogonalisation coefficient c = q·(w − α q − β
    q_prev) and β' = ||w − α q − β q_prev − c q|| = sqrt(||·||² − c²) (q is a unit vector): two passes, each a
    round of block tasks; returns (α + c, β')."""
    dots, norms = np.zeros(BLOCKS), np.zeros(BLOCKS)
    run_blocks(_recurrence_sums, q, q_prev, w, alpha, beta, dots, norms, work=4 * len(q))
    c = _ordered_sum(dots)
    beta_new = float(np.sqrt(max(_ordered_sum(norms) - c * c, 0.0)))
    inv = 1.0 / beta_new if beta_new > 0.0 else 0.0
    run_blocks(_recurrence_scale, q, w, c, inv, work=2 * len(q))
    return alpha + c, beta_new


@njit(cache=True, nogil=True)
def _block_dots(b_lo, b_hi, q, w, part):
    n = len(q)
    for b in range(b_lo, b_hi):
        acc = 0.0
        for r in range(b * n // BLOCKS, (b + 1) * n // BLOCKS):
            acc += q[r] * w[r]
        part[b] = acc


def block_dot(q: np.ndarray, w: np.ndarray) -> float:
    """q · w summed in block order (the same value for any number of threads)."""
    part = np.zeros(BLOCKS)
    run_blocks(_block_dots, q, w, part, work=2 * len(q))
    return _ordered_sum(part)


def _good_ritz(alpha: np.ndarray, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ritz values (ascending) of T_m that stand for distinct eigenvalues, and their residual bounds.

    Numerically multiple values are one eigenvalue. A simple value that is also an eigenvalue of T_m without
    its first row and column (Cullum-Willoughby) is a copy in the making ("ghost") unless it has converged
    (residual <= ``SPECTRAL_TOL`` of the scale) away from every other converged value: then it is a genuine
    eigenvalue whose eigenvector the start vector barely touches (e.g. one localised on a hub node).
    """
    m = len(alpha)
    theta, s = eigh_tridiagonal(alpha, beta[:m - 1])
    res = abs(beta[m - 1]) * np.abs(s[-1])
    norm_t = max(float(np.abs(theta).max()), 1e-300)
    tol = CW_TOL * norm_t
    mu = eigh_tridiagonal(alpha[1:], beta[1:m - 1], eigvals_only=True) if m > 1 else np.zeros(0)
    vals, resid, suspect = [], [], []
    i = 0
    while i < m:
        j = i
        while j + 1 < m and theta[j + 1] - theta[j] <= tol:
            j += 1
        vals.append(theta[i])
        resid.append(res[i:j + 1].min())
        suspect.append(j == i and mu.size > 0 and np.min(np.abs(mu - theta[i])) <= tol)
        i = j + 1
    vals, resid = np.asarray(vals), np.asarray(resid)
    conv = resid <= SPECTRAL_TOL * norm_t
    keep = np.ones(len(vals), dtype=bool)
    for i in np.flatnonzero(suspect):
        near = conv & ~np.asarray(suspect) & (np.abs(vals - vals[i]) <= resid + resid[i] + tol)
        keep[i] = bool(conv[i]) and not near.any()
    return vals[keep], resid[keep]


def _settled(good: np.ndarray, res: np.ndarray, err: np.ndarray, top: int, bottom: int, tol: float,
             guard: bool = True) -> np.ndarray | None:
    """Error bounds of the values the metrics read, or None while a candidate next to them has neither
    converged nor been told apart from them.

    ``good`` (ascending) and ``res``: good Ritz values and residual bounds in the operator's units; ``err``:
    error bounds in the reported units. The candidates are the ``top`` largest and ``bottom`` smallest values.
    With ``bottom == 0`` the metrics read the ``top − 1`` largest (the last candidate is a guard; without
    ``guard`` all ``top``); with ``bottom > 0`` (A: both gaps) they read the two largest and the three of
    largest magnitude. A candidate the metrics do not read must have converged (``err <= tol``) or lie outside
    the read values' intervals θ ± r: below the smallest read top value, and (with ``bottom``) below the
    smallest read magnitude. So the stopping point is the earlier of "the neighbours have converged" and "the
    neighbours are told apart": a tiny gap inside the bulk below the read values does not delay it, nor does a
    tiny gap between a read value and its neighbour.
    """
    k = good.size
    if k < top + bottom:
        return None
    ups = list(range(k - 1, k - 1 - top, -1))
    downs = list(range(bottom))
    if bottom:
        mags = sorted(ups + downs, key=lambda i: -abs(good[i]))[:3]
        read = set(ups[:2]) | set(mags)
        floor_mag = min(abs(good[i]) - res[i] for i in mags)
    else:
        read = set(ups[:top - 1] if guard else ups)
    floor_top = min(good[i] - res[i] for i in ups if i in read)
    for i in ups + downs:
        if i in read or err[i] <= tol:
            continue
        if i in ups and good[i] + res[i] >= floor_top:
            return None
        if bottom and abs(good[i]) + res[i] >= floor_mag:
            return None
    return err[sorted(read)]


class LanczosRun:
    """One Lanczos recurrence: its operator (A, L = D − A, or B Bᵀ when ``colour`` is given), vectors, the
    tridiagonal T_m (alphas, betas) and the stopping rule of the module docstring."""

    def __init__(self, n: int, seed: int, laplacian: bool, top: int, bottom: int, what: str,
                 colour: np.ndarray | None, norms: np.ndarray):
        self.laplacian, self.top, self.bottom, self.what, self.colour = laplacian, top, bottom, what, colour
        self.size = n if colour is None else int(colour.sum())  # dimension of the operator's space
        # ``norms``: per node, the max row norm of A (adjacency runs) or the diagonal of L; their maximum is a
        # rigorous lower bound of the largest eigenvalue (for A, the largest ||row|| >= 0 bounds λ1 from below as
        # that of a star; its square for B Bᵀ): iterations go on until the top Ritz value reaches it
        self.floor = (float(norms.max()) if len(norms) else 0.0) ** (2 if colour is not None else 1)
        # both signs (no eigenvector is nearly orthogonal to it by construction), plus weight on the node that
        # sets the lower bound, so that an eigenvector localised there (a hub) is in the Krylov space from the start
        q = np.random.default_rng(seed).standard_normal(n)
        if len(norms):
            q[int(np.argmax(norms))] += np.sqrt(n)
        if colour is not None:
            q[~colour] = 0.0
            self.t = np.zeros(n)
        self.q = q / np.sqrt(np.sum(q * q))  # numpy's pairwise sum: no BLAS, whose sums depend on its threads
        self.q_prev, self.w = np.zeros(n), np.empty(n)
        self.alphas: list[float] = []
        self.betas: list[float] = []
        self.beta = 0.0
        self.done = False
        self.good = self.res = np.zeros(0)
        self.t0 = time.perf_counter()

    def advance(self, alpha: float) -> None:
        """Finish the step whose product is in ``w`` (α = q·w), and check convergence when due."""
        alpha, self.beta = _recurrence(self.q, self.q_prev, self.w, alpha, self.beta)
        self.alphas.append(alpha)
        self.betas.append(self.beta)
        self.q_prev, self.q, self.w = self.q, self.w, self.q_prev
        m = len(self.alphas)
        breakdown = self.beta <= 1e-14 * max(abs(alpha), 1.0)
        last = breakdown or m >= min(self.size, MAX_STEPS)
        if m % (1 + m // CHECK_STEPS) and not last:
            return
        self.good, self.res = good, res = _good_ritz(np.asarray(self.alphas), np.asarray(self.betas))
        err, scale, floor = res, (float(np.abs(good).max()) if good.size else 0.0), self.floor
        if self.colour is not None:  # eigenvalues s² of B Bᵀ: the tolerance applies to the singular values s
            err = np.sqrt(np.maximum(good, 0.0)) - np.sqrt(np.maximum(good - res, 0.0))
            scale, floor = np.sqrt(scale), np.sqrt(floor)
        found_top = good.size > 0 and good[-1] >= (floor - SPECTRAL_TOL * max(scale, floor)) ** (
            2 if self.colour is not None else 1)
        need = _settled(good, res, err, self.top, self.bottom, SPECTRAL_TOL * scale, guard=not self.laplacian)
        converged = need is not None and found_top and bool(np.all(need <= SPECTRAL_TOL * scale))
        if need is None:  # neighbours not yet told apart: report the bounds of every candidate
            need = np.concatenate([err[::-1][:self.top], err[:self.bottom]])
        self.done = last or converged
        if self.done:
            self.seconds = time.perf_counter() - self.t0
        if m % 100 == 0:
            log.info("spectral %s: %d Lanczos steps, %.1f s, error bound %.2e of %.4g", self.what, m,
                     time.perf_counter() - self.t0, float(need.max(initial=0)), scale)
        if m >= MAX_STEPS and not (converged or breakdown):
            log.warning("spectral %s: not converged to %.0e after %d steps (largest bound %.2e); values reported "
                        "as reached", self.what, SPECTRAL_TOL, MAX_STEPS, float(need.max(initial=0)))

    def values(self) -> tuple[np.ndarray, np.ndarray]:
        """The ``top`` largest (descending) and ``bottom`` smallest (ascending) good Ritz values; NaN where
        fewer exist."""
        up, down = np.full(self.top, np.nan), np.full(self.bottom, np.nan)
        good = self.good
        k_up = min(self.top, good.size)
        up[:k_up] = good[::-1][:k_up]
        k_down = min(self.bottom, good.size - k_up)  # no value twice when fewer than top + bottom exist
        down[:k_down] = good[:k_down]
        return up, down


#: ``step(adj, lap)``: the products of one Lanczos step: fill ``adj.w`` with the adjacency operator (A or B Bᵀ)
#: applied to ``adj.q`` and ``lap.w`` with L applied to ``lap.q`` (either run may be None), return both α = q·w.
Step = Callable[["LanczosRun | None", "LanczosRun | None"], tuple[float, float]]


def run_lanczos(runs: list[LanczosRun], step: Step, entries: int) -> None:
    """Advance the runs until each has stopped; ``step`` computes the products of the live adjacency and
    Laplacian runs together (one pass over the graph serves both); ``entries`` (stored adjacency entries) sets
    the log level."""
    while True:
        live = [r for r in runs if not r.done]
        if not live:
            break
        lap = next((r for r in live if r.laplacian), None)
        adj = next((r for r in live if not r.laplacian), None)
        alpha, alpha_l = step(adj, lap)
        if adj is not None:
            adj.advance(alpha)
        if lap is not None:
            lap.advance(alpha_l)
    for r in runs:
        log.log(logging.INFO if entries >= 2_000_000 else logging.DEBUG,
                "spectral %s: %d Lanczos steps in %.2f s", r.what, len(r.alphas), r.seconds)


def spectral_values(n: int, seed: int, with_gaps: bool, with_radius: bool, colour: np.ndarray | None,
                    row_norms: np.ndarray, diag: np.ndarray, step: Step, entries: int) -> dict[str, float]:
    """spectral_gap, spectral_gap_paper, spectral_radius by Lanczos (n > ``DENSE_EIG_MAX``) on A (or B Bᵀ when
    ``colour`` 2-colours the graph) and L = diag − A, whatever computes the products (``step``). ``row_norms``:
    the row norms of A; ``diag``: the row sums of A (both per node, float64)."""
    nan = float("nan")
    out = {"spectral_gap": nan, "spectral_gap_paper": nan, "spectral_radius": nan}
    runs = []
    if with_gaps and colour is not None:
        if 2 * int(colour.sum()) < n:  # the larger side: B Bᵀ then holds the zero eigenvalues of A, if any
            colour = ~colour
        runs.append(LanczosRun(n, seed, False, 3, 0, "B Bᵀ", colour, row_norms))
    elif with_gaps:
        runs.append(LanczosRun(n, seed, False, 3, 3, "A", None, row_norms))
    if with_radius:
        runs.append(LanczosRun(n, seed, True, 1, 0, "L", None, diag))
    run_lanczos(runs, step, entries)
    if with_gaps and colour is not None:
        sq, _ = runs[0].values()
        sv = np.sqrt(np.maximum(sq, 0.0))
        out["spectral_gap"] = out["spectral_gap_paper"] = float(sv[0] - sv[1])
    elif with_gaps:
        up, down = runs[0].values()
        cand = np.concatenate([up, down])
        mags = np.sort(np.abs(cand[np.isfinite(cand)]))[::-1]
        out["spectral_gap"] = float(up[0] - up[1])
        out["spectral_gap_paper"] = float(mags[0] - mags[2]) if mags.size >= 3 else nan
    if with_radius:
        out["spectral_radius"] = float(runs[-1].values()[0][0])
    return out


def dense_values(a: np.ndarray) -> dict[str, float]:
    """The three spectral metrics of a small graph from its dense symmetric adjacency (exact, float64)."""
    from .kernels import one_blas_thread

    n = len(a)
    with one_blas_thread():
        ev, lap = np.linalg.eigvalsh(a), np.linalg.eigvalsh(np.diag(a.sum(axis=1)) - a)
    top = ev[::-1]
    mags = np.sort(np.abs(ev))[::-1]
    nan = float("nan")
    return {"spectral_gap": float(top[0] - top[1]) if n >= 2 else nan,
            "spectral_gap_paper": float(mags[0] - mags[2]) if n >= 3 else nan, "spectral_radius": float(lap[-1])}
