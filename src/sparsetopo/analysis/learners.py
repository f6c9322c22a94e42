"""Regularised learners tuned inside the training folds, and grouped out-of-fold prediction.

A model has two parts: *fixed effects* (indicator columns of the baseline: one per cell, or per cell and pruner,
or additive architecture and sparsity indicators), fitted by least squares and never penalised, so that the
baseline "cell means" is exactly the training cell means; and *features* (layer densities, topology metrics),
fitted on what the fixed effects leave (Frisch–Waugh–Lovell):

- ``ridge``: each feature mapped to the normal scores of its training ranks (:func:`normal_scores`: a
  monotone, outlier-proof scale, so that a metric with a heavy tail cannot give a few runs all the leverage),
  then residualised on the fixed effects and standardised, penalty α chosen from :data:`RIDGE_ALPHAS` by an inner
  cross-validation on the training rows only;
- ``gbt``: gradient-boosted trees (scikit-learn; 100 trees, learning rate 0.1, row subsampling 0.8) on the
  residuals of the fixed effects, depth chosen from :data:`GBT_GRID` the same way;
- ``mean``: the fixed effects alone (no feature at all).

Folds. Outer and inner folds hold whole groups (clusters: seeds or pruners): each group is its own fold when
there are at most ``max_folds`` of them (leave one group out), else each group goes to the fold of a seeded hash of
its label, at most ``max_folds`` folds (:func:`group_folds`: stable when other groups are deleted). Inner folds: at
most :data:`INNER_FOLDS` such folds over the training groups when there are at least 3 of them, else 5 folds over
the training rows (seeded). Missing values are imputed
with training-fold medians, columns constant (or all missing) in the training fold are dropped, and test values
are clipped to the training fold's range, both as measured and once the fixed effects are taken out (a metric
that barely varies inside a cell or pruner must not be extrapolated from its tiny within-cell spread), inside every
inner and outer fold, so no test row ever informs a fit and a held-out pruner whose metrics lie far outside the
training range cannot drive a linear model to absurd predictions (the same rule for every feature set). For the
same reason every prediction is clipped to the range of the training targets (an accuracy model must not predict
1.6). On the interventional study's 320 pilot generators (docs/statistics.md, "Learner") the rank scale and the
clipping together narrowed the interval of T1's primary comparison from ±0.49 to ±0.18.
"""

from __future__ import annotations

import hashlib
import warnings
from typing import Any, Mapping

import numpy as np
from scipy import special

RIDGE_ALPHAS = np.logspace(-3, 3, 13)
GBT_GRID = ({"max_depth": 2}, {"max_depth": 3})
GBT_FIXED = {"n_estimators": 100, "learning_rate": 0.1, "subsample": 0.8, "min_samples_leaf": 3}
LEARNERS = ("ridge", "gbt", "mean")
INNER_FOLDS = 5


def impute_clip(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Impute with training medians (dropping columns empty in training) and clip test values to the training
    range (no linear extrapolation beyond what the fit has seen)."""
    if train.shape[1] == 0:
        return train, test
    missing = np.isnan(train)
    if missing.any() or np.isnan(test).any():
        med = np.median(train, axis=0)
        gaps = missing.any(axis=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing column: NaN median, dropped below
            med[gaps] = np.nanmedian(train[:, gaps], axis=0)
        keep = np.isfinite(med)
        train = np.where(missing, med, train)[:, keep]
        test = np.where(np.isnan(test), med, test)[:, keep]
    return train, np.clip(test, train.min(axis=0), train.max(axis=0))


def normal_scores(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each column as standard-normal quantiles of its rank among the training values, Φ⁻¹(rank / (n + 1)) with
    ties at their average rank; a test value takes the rank its position among the training values gives it (a
    training value's own rank, halfway between neighbours otherwise, 0.5 below the minimum, n + 0.5 above the
    maximum), so no test row informs the scale. Both are (#below + #at-or-below + 1) / 2 among the sorted training
    values: for a training value that is its average rank."""
    n = len(train)
    if n == 0 or train.shape[1] == 0:
        return train, test
    z_train, z_test = np.empty(train.shape), np.empty(test.shape)
    for j, column in enumerate(np.sort(train, axis=0).T):  # one sort per feature, vectorised over rows
        for values, out in ((train[:, j], z_train), (test[:, j], z_test)):
            below, at_or_below = np.searchsorted(column, values, "left"), np.searchsorted(column, values, "right")
            out[:, j] = (below + at_or_below + 1) / (2.0 * (n + 1))
    return special.ndtri(z_train), special.ndtri(z_test)


def standardise(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre and scale by the training columns, dropping columns constant in training."""
    mu, sd = train.mean(axis=0), train.std(axis=0)
    varying = sd > 1e-12 * np.maximum(1.0, np.abs(mu))
    return (train[:, varying] - mu[varying]) / sd[varying], (test[:, varying] - mu[varying]) / sd[varying]


def prepare(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`impute_clip`, then :func:`standardise`."""
    return standardise(*impute_clip(train, test))


class FixedEffects:
    """Least-squares fit of columns on the fixed-effect indicators of the training rows, and its prediction for
    the test rows. One-hot indicators (every row in exactly one level: cells) are fitted as level means, a level
    absent from training predicted by the training mean; other indicator sets by least squares."""

    def __init__(self, f_train: np.ndarray | None, f_test: np.ndarray | None, n_train: int, n_test: int) -> None:
        if f_train is None or f_train.shape[1] == 0:
            f_train, f_test = np.ones((n_train, 1)), np.ones((n_test, 1))
        self.one_hot = bool(f_train.min() >= 0 and f_train.max() <= 1 and (f_train.sum(axis=1) == 1).all()
                            and (f_test.sum(axis=1) == 1).all())
        if self.one_hot:
            self.counts = f_train.sum(axis=0)
        self.f_train, self.f_test = f_train, f_test

    def fit(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(fitted training values, predicted test values) of ``values`` (a vector or the columns of a matrix)."""
        if self.one_hot:
            flat = values.reshape(len(values), -1)
            seen = self.counts > 0
            means = np.where(seen[:, None], (self.f_train.T @ flat) / np.where(seen, self.counts, 1.0)[:, None],
                             flat.mean(axis=0))
            return ((self.f_train @ means).reshape(values.shape),
                    (self.f_test @ means).reshape((len(self.f_test),) + values.shape[1:]))
        coef = np.linalg.lstsq(self.f_train, values, rcond=None)[0]
        return self.f_train @ coef, self.f_test @ coef


def ridge_path(z_train: np.ndarray, y_train: np.ndarray, z_test: np.ndarray,
               alphas: np.ndarray = RIDGE_ALPHAS) -> np.ndarray:
    """Ridge predictions of the test rows for every α (columns), intercept unpenalised, from one SVD."""
    mean = y_train.mean()
    if z_train.shape[1] == 0:
        return np.full((len(z_test), len(alphas)), mean)
    zc = z_train - z_train.mean(axis=0)
    u, s, vt = np.linalg.svd(zc, full_matrices=False)
    uty = u.T @ (y_train - mean)
    shrink = s[:, None] / (s[:, None] ** 2 + alphas[None, :])  # (k, n_alphas)
    coef = vt.T @ (shrink * uty[:, None])  # (p, n_alphas)
    return mean + (z_test - z_train.mean(axis=0)) @ coef


def group_folds(groups: np.ndarray, max_folds: int | None, seed: int) -> list[np.ndarray]:
    """Test masks of a grouped cross-validation: one fold per group when there are at most ``max_folds`` groups
    (``None``: no limit), else each group in the fold given by a seeded hash of its own label (empty folds
    dropped). A group's fold never depends on which other groups are present, so deleting clusters (the jackknife
    replicates) leaves every other cluster in its fold: a replicate differs from the full fit by the deleted data
    only, not by a new random partition, whose noise the jackknife would multiply by the number of blocks."""
    levels, codes = np.unique(np.asarray(groups), return_inverse=True)
    if max_folds is None or len(levels) <= max_folds:
        return [codes == k for k in range(len(levels))]
    fold_of_level = np.array([_stable_hash(f"{seed}:{level}") % max_folds for level in levels])
    folds = [fold_of_level[codes] == k for k in range(max_folds) if (fold_of_level == k).any()]
    return folds if len(folds) > 1 else [codes == k for k in range(len(levels))]


def _stable_hash(text: str) -> int:
    """A 64-bit hash of ``text`` that is the same in every process (Python's ``hash`` of a str is salted)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def inner_folds(groups: np.ndarray, seed: int) -> list[np.ndarray]:
    """Validation masks of the inner cross-validation over the training rows (see module docstring)."""
    if len(np.unique(groups)) >= 3:
        return group_folds(groups, INNER_FOLDS, seed)
    n = len(groups)
    order = np.random.default_rng(seed).permutation(n)
    out = []
    for fold in np.array_split(order, min(5, n)):
        mask = np.zeros(n, bool)
        mask[fold] = True
        out.append(mask)
    return out


def _gbt(seed: int, params: Mapping[str, Any]):
    from sklearn.ensemble import GradientBoostingRegressor

    return GradientBoostingRegressor(random_state=seed, **{**GBT_FIXED, **params})


def _candidates(learner: str, x_train, y_train, x_test, f_train, f_test, seed) -> np.ndarray:
    """Test predictions of every candidate setting of ``learner`` (columns: α values, or tree depths)."""
    fixed = FixedEffects(f_train, f_test, len(y_train), len(x_test))
    y_fit, y_pred = fixed.fit(y_train)
    x_train, x_test = impute_clip(x_train, x_test)
    n_settings = len(RIDGE_ALPHAS) if learner == "ridge" else len(GBT_GRID)
    if x_train.shape[1] == 0:
        return np.repeat(y_pred[:, None], n_settings, axis=1)
    if learner == "ridge":
        x_train, x_test = normal_scores(x_train, x_test)
        x_fit, x_pred = fixed.fit(x_train)
        ztr, zte = standardise(x_train - x_fit, x_test - x_pred)
        zte = np.clip(zte, ztr.min(axis=0), ztr.max(axis=0))  # no extrapolation beyond the residuals seen either
        out = y_pred[:, None] + ridge_path(ztr, y_train - y_fit, zte) - (y_train - y_fit).mean()
    else:
        out = np.empty((len(x_test), n_settings))
        for i, params in enumerate(GBT_GRID):
            out[:, i] = y_pred + _gbt(seed, params).fit(x_train, y_train - y_fit).predict(x_test)
    return np.clip(out, y_train.min(), y_train.max())


def fit_predict(learner: str, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
                groups_train: np.ndarray, seed: int = 0, f_train: np.ndarray | None = None,
                f_test: np.ndarray | None = None) -> np.ndarray:
    """Tune ``learner`` by inner CV on the training rows, refit on all of them, predict the test rows; ``f_*``:
    the fixed-effect indicators (None: an intercept)."""
    if learner not in LEARNERS:
        raise ValueError(f"unknown learner {learner!r}; known: {', '.join(LEARNERS)}")
    if learner == "mean" or len(y_train) < 4 or x_train.shape[1] == 0:
        return FixedEffects(f_train, f_test, len(y_train), len(x_test)).fit(y_train)[1]
    sse = 0.0
    for val in inner_folds(groups_train, seed):
        f_tr = None if f_train is None else f_train[~val]
        f_val = None if f_train is None else f_train[val]
        pred = _candidates(learner, x_train[~val], y_train[~val], x_train[val], f_tr, f_val, seed)
        sse = sse + ((pred - y_train[val, None]) ** 2).sum(axis=0)
    best = int(np.argmin(sse))
    return _candidates(learner, x_train, y_train, x_test, f_train, f_test, seed)[:, best]


def out_of_fold(learner: str, x: np.ndarray, y: np.ndarray, groups: np.ndarray, seed: int = 0,
                centred: bool = False, max_folds: int | None = None, fixed: np.ndarray | None = None) -> np.ndarray:
    """Grouped out-of-fold predictions (:func:`group_folds`; NaN for a fold with fewer than 3 training rows or a
    single group); ``fixed``: the fixed-effect indicators of every row (None: an intercept).

    ``centred``: each prediction minus what the fixed effects alone predict in its fold (the features' part), for
    ranking the held-out groups against each other: the training mean of a cell is lower when a high group is held
    out, so raw predictions of an uninformative model rank the groups in reverse (the leave-one-out mean shift)."""
    pred = np.full(len(y), np.nan)
    if len(np.unique(groups)) < 2:
        return pred
    for test in group_folds(groups, max_folds, seed):
        if (~test).sum() < 3:
            continue
        f_train, f_test = (None, None) if fixed is None else (fixed[~test], fixed[test])
        pred[test] = fit_predict(learner, x[~test], y[~test], x[test], groups[~test], seed, f_train, f_test)
        if centred:
            pred[test] -= FixedEffects(f_train, f_test, int((~test).sum()), int(test.sum())).fit(y[~test])[1]
    return pred
