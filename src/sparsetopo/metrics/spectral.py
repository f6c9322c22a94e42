"""Extreme eigenvalues of the weighted symmetric adjacency A of U and of its Laplacian L = D − A.

Small graphs (N <= ``DENSE_EIG_MAX``) get exact dense float64 eigenvalues. Larger ones use the Lanczos
recurrence without stored basis (Cullum & Willoughby, *Lanczos Algorithms for Large Symmetric Eigenvalue
Computations*, 1985): memory O(N) (four vectors), one compiled matvec and two vector passes per step, float64
vectors (A's float32 weights are the matrix, exactly), a start vector drawn from ``np.random.default_rng(seed)``.
Without reorthogonalisation, copies ("ghosts") of converged eigenvalues appear; they are told apart by the
Cullum-Willoughby test: a Ritz value of the tridiagonal T_m that is numerically multiple is one eigenvalue, and
a simple one that is also an eigenvalue of T_m without its first row and column is spurious.

Tolerance and bounded work. Every ``CHECK_EVERY`` steps the good Ritz values are computed with their residual
bounds r_i = β_m |s_{m,i}| (there is an eigenvalue within r_i of θ_i). The iteration stops when the three
largest and the three smallest good Ritz values of A (the two largest of L) have r_i <= ``SPECTRAL_TOL`` ·
max|θ|, i.e. each reported eigenvalue is within 1e-4 of the spectral scale of a true eigenvalue (values
converge faster than this bound: measured errors are below 1e-7 of the scale on ResNet-50); the third
value of each end is a guard against a Ritz value that has settled on λ3 before λ2 has emerged. Values
converge at a rate set by the spectrum's width over the *tolerance* (about sqrt(width / (tol·scale)) steps,
a few hundred at most), not by the gaps, so graphs whose top eigenvalues are nearly equal (the bulk edge of
pruned random layers: gaps of 1e-3 relative) converge in a bounded number of steps; ``MAX_STEPS`` caps the
work (a warning reports the bounds reached). A value of multiplicity > 1 is seen once (as by any
single-vector Krylov method).
"""

from __future__ import annotations

import logging
import time

import numpy as np
from numba import njit, prange
from scipy.linalg import eigh_tridiagonal

from .kernels import BLOCKS, row_sums, unsigned

log = logging.getLogger("sparsetopo.metrics")

#: Graphs with at most this many nodes get exact dense eigenvalues (numpy ``eigvalsh``).
DENSE_EIG_MAX = 500
#: Residual bound of every reported eigenvalue, relative to the largest |eigenvalue|.
SPECTRAL_TOL = 1e-4
#: Lanczos steps between two convergence checks, and the cap on steps (matrix-vector products) per operator.
CHECK_EVERY = 5
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


@njit(cache=True, parallel=True)
def _recurrence(q, q_prev, w, alpha, beta):
    """w <- (w − α q − β q_prev − c q) / β' with the local reorthogonalisation coefficient c = q·(w − α q − β
    q_prev) and β' = ||w − α q − β q_prev − c q|| = sqrt(||·||² − c²) (q is a unit vector): two passes."""
    n = len(q)
    dots = np.zeros(BLOCKS)
    norms = np.zeros(BLOCKS)
    for b in prange(BLOCKS):
        acc = 0.0
        nrm = 0.0
        for r in range(b * n // BLOCKS, (b + 1) * n // BLOCKS):
            v = w[r] - alpha * q[r] - beta * q_prev[r]
            w[r] = v
            acc += q[r] * v
            nrm += v * v
        dots[b] = acc
        norms[b] = nrm
    c = _ordered_sum(dots)
    beta_new = np.sqrt(max(_ordered_sum(norms) - c * c, 0.0))
    inv = 1.0 / beta_new if beta_new > 0.0 else 0.0
    for b in prange(BLOCKS):
        for r in range(b * n // BLOCKS, (b + 1) * n // BLOCKS):
            w[r] = (w[r] - c * q[r]) * inv
    return alpha + c, beta_new


@njit(cache=True, parallel=True)
def _lanczos_step(indptr, indices, data, diag, negate, q, q_prev, w, beta):
    """One Lanczos step for M = diag − A (negate=False) or M = A (negate=True): returns (α, β') and leaves the
    next unit vector in ``w``. Parallel over ``BLOCKS`` row blocks; sums combine in block order."""
    n = len(indptr) - 1
    part = np.zeros(BLOCKS)
    for b in prange(BLOCKS):
        acc = 0.0
        for r in range(b * n // BLOCKS, (b + 1) * n // BLOCKS):
            s = 0.0
            for p in range(indptr[r], indptr[r + 1]):
                s += data[p] * q[indices[p]]
            y = s if negate else diag[r] * q[r] - s
            w[r] = y
            acc += q[r] * y
        part[b] = acc
    return _recurrence(q, q_prev, w, _ordered_sum(part), beta)


@njit(cache=True, parallel=True)
def _lanczos_step_squared(indptr, indices, data, colour, q, q_prev, w, t, beta):
    """One Lanczos step for M = B Bᵀ of a bipartite A = [[0, B], [Bᵀ, 0]] (rows with ``colour`` form B's rows):
    t = A q on the other side, then w = A t on this side; vectors are zero off this side."""
    n = len(indptr) - 1
    part = np.zeros(BLOCKS)
    for b in prange(BLOCKS):
        for r in range(b * n // BLOCKS, (b + 1) * n // BLOCKS):
            if not colour[r]:
                s = 0.0
                for p in range(indptr[r], indptr[r + 1]):
                    s += data[p] * q[indices[p]]
                t[r] = s
    for b in prange(BLOCKS):
        acc = 0.0
        for r in range(b * n // BLOCKS, (b + 1) * n // BLOCKS):
            y = 0.0
            if colour[r]:
                for p in range(indptr[r], indptr[r + 1]):
                    y += data[p] * t[indices[p]]
            w[r] = y
            acc += q[r] * y
        part[b] = acc
    return _recurrence(q, q_prev, w, _ordered_sum(part), beta)


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


def lanczos_extremes(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, seed: int, laplacian: bool,
                     top: int, bottom: int, what: str = "A",
                     colour: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(``top`` largest eigenvalues descending, ``bottom`` smallest ascending) of A, or of L = D − A when
    ``laplacian``, or of B Bᵀ when ``colour`` (bool per node, a proper 2-colouring of a bipartite A) is given,
    on a canonical symmetric CSR; NaN where fewer exist. Stops as documented in the module."""
    n = len(indptr) - 1
    up, down = np.full(top, np.nan), np.full(bottom, np.nan)
    diag = np.zeros(1)
    if laplacian:
        diag = row_sums(indptr, data)
    ip, ix = unsigned(indptr, indices)
    # a rigorous lower bound of the largest eigenvalue (max diagonal of L; max ||row|| of A >= 0, whose λ1
    # dominates that of every star; its square for B Bᵀ): iterations go on until the top Ritz value reaches it
    norms = np.sqrt(row_sums(indptr, data, True)) if not laplacian else diag
    floor = float(norms.max()) if len(norms) else 0.0
    floor = floor ** 2 if colour is not None else floor
    # both signs (no eigenvector is nearly orthogonal to it by construction), plus weight on the node that sets
    # the lower bound, so that an eigenvector localised there (a hub) is in the Krylov space from the start
    q = np.random.default_rng(seed).standard_normal(n)
    if len(norms):
        q[int(np.argmax(norms))] += np.sqrt(n)
    if colour is not None:
        q[~colour] = 0.0
        t = np.zeros(n)
    q /= np.linalg.norm(q)
    q_prev, w = np.zeros(n), np.empty(n)
    alphas, betas = [], []
    beta = 0.0
    t0 = time.perf_counter()
    good = res = np.zeros(0)
    for step in range(1, MAX_STEPS + 1):
        if colour is None:
            alpha, beta = _lanczos_step(ip, ix, data, diag, not laplacian, q, q_prev, w, beta)
        else:
            alpha, beta = _lanczos_step_squared(ip, ix, data, colour, q, q_prev, w, t, beta)
        alphas.append(alpha)
        betas.append(beta)
        q_prev, q, w = q, w, q_prev
        breakdown = beta <= 1e-14 * max(abs(alpha), 1.0)
        if step % CHECK_EVERY and not breakdown and step < min(n if colour is None else int(colour.sum()),
                                                                MAX_STEPS):
            continue
        good, res = _good_ritz(np.asarray(alphas), np.asarray(betas))
        scale = float(np.abs(good).max()) if good.size else 0.0
        found_top = good.size > 0 and good[-1] >= floor - SPECTRAL_TOL * max(scale, floor)
        need_up = res[::-1][:top + (1 if top < 3 else 0)]
        need_down = res[:bottom]
        done = breakdown or step >= (n if colour is None else int(colour.sum())) or (
            good.size >= top + bottom and found_top and bool(np.all(need_up <= SPECTRAL_TOL * scale))
            and bool(np.all(need_down <= SPECTRAL_TOL * scale)))
        if step % (20 * CHECK_EVERY) == 0:
            log.info("spectral %s: %d Lanczos steps, %.1f s, residual bound %.2e of %.4g", what, step,
                     time.perf_counter() - t0, float(max(need_up.max(initial=0), need_down.max(initial=0))), scale)
        if done:
            break
    else:
        log.warning("spectral %s: not converged to %.0e after %d steps (largest residual bound %.2e); values "
                    "reported as reached", what, SPECTRAL_TOL, MAX_STEPS, float(res.max(initial=0)))
    log.log(logging.INFO if len(indices) >= 2_000_000 else logging.DEBUG, "spectral %s: %d Lanczos steps in %.2f s",
            what, len(alphas), time.perf_counter() - t0)
    k_up = min(top, good.size)
    up[:k_up] = good[::-1][:k_up]
    k_down = min(bottom, good.size - k_up)  # no value twice when fewer than top + bottom exist
    down[:k_down] = good[:k_down]
    return up, down


def _dense(indptr, indices, data, n) -> tuple[np.ndarray, np.ndarray]:
    a = np.zeros((n, n))
    rows = np.repeat(np.arange(n), np.diff(indptr))
    a[rows, indices] = data
    return np.linalg.eigvalsh(a), np.linalg.eigvalsh(np.diag(a.sum(axis=1)) - a)


def spectral_metrics(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, seed: int,
                     with_gaps: bool = True, with_radius: bool = True,
                     colour: np.ndarray | None = None) -> dict[str, float]:
    """spectral_gap (λ1 − λ2 of A), spectral_gap_paper (|λ|1 − |λ|3), spectral_radius (λmax of D − A) of a
    canonical symmetric CSR (float32 weights); NaN where undefined or not asked for.

    ``colour``: a proper 2-colouring of the nodes (bool per node) when the graph is bipartite. Then the
    spectrum of A is ± the singular values s of its biadjacency B, so λ1 − λ2 = |λ|1 − |λ|3 = s1 − s2, and
    Lanczos runs on B Bᵀ (one-sided spectrum s²: the relative gaps double and the spectrum's width halves,
    about half the matrix-vector products for the same tolerance)."""
    n = len(indptr) - 1
    nan = float("nan")
    if n == 0 or len(indices) == 0:
        return {"spectral_gap": 0.0 if n >= 2 else nan, "spectral_gap_paper": 0.0 if n >= 3 else nan,
                "spectral_radius": 0.0 if n >= 1 else nan}
    out = {"spectral_gap": nan, "spectral_gap_paper": nan, "spectral_radius": nan}
    if n <= DENSE_EIG_MAX:
        ev, lap = _dense(indptr, indices, data, n)
        top = ev[::-1]
        mags = np.sort(np.abs(ev))[::-1]
        out["spectral_gap"] = float(top[0] - top[1]) if n >= 2 else nan
        out["spectral_gap_paper"] = float(mags[0] - mags[2]) if n >= 3 else nan
        out["spectral_radius"] = float(lap[-1])
        return out
    if with_gaps and colour is not None:
        if 2 * int(colour.sum()) < n:  # the larger side: B Bᵀ then holds the zero eigenvalues of A, if any
            colour = ~colour
        sq, _ = lanczos_extremes(indptr, indices, data, seed, False, 3, 0, "B Bᵀ", colour=colour)
        sv = np.sqrt(np.maximum(sq, 0.0))
        out["spectral_gap"] = out["spectral_gap_paper"] = float(sv[0] - sv[1])
    elif with_gaps:
        up, down = lanczos_extremes(indptr, indices, data, seed, False, 3, 3, "A")
        cand = np.concatenate([up, down])
        mags = np.sort(np.abs(cand[np.isfinite(cand)]))[::-1]
        out["spectral_gap"] = float(up[0] - up[1])
        out["spectral_gap_paper"] = float(mags[0] - mags[2]) if mags.size >= 3 else nan
    if with_radius:
        up, _ = lanczos_extremes(indptr, indices, data, seed, True, 1, 0, "L")
        out["spectral_radius"] = float(up[0])
    return out
