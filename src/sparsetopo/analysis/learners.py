"""Regularised learners tuned inside the training folds, and grouped out-of-fold prediction.

- ``ridge``: standardised features, intercept unpenalised, penalty α chosen from :data:`RIDGE_ALPHAS` by an inner
  cross-validation on the training rows only;
- ``gbt``: gradient-boosted trees (scikit-learn; 100 trees, learning rate 0.1, row subsampling 0.8), depth chosen
  from :data:`GBT_GRID` the same way;
- ``mean``: the training mean (the model with no feature at all).

Inner folds: leave-one-group-out over the training groups when there are at least 3 of them (the same grouping
as the outer folds: seeds or pruners), else 5-fold over the training rows (seeded). Missing values are imputed
with training-fold medians, columns constant (or all missing) in the training fold are dropped, and test values
are clipped to the training fold's range, inside every inner and outer fold, so no test row ever informs a fit
and a held-out pruner whose metrics lie far outside the training range cannot drive a linear model to absurd
predictions (the same rule for every feature set).
"""

from __future__ import annotations

import warnings
from typing import Any, Mapping

import numpy as np

RIDGE_ALPHAS = np.logspace(-3, 3, 13)
GBT_GRID = ({"max_depth": 2}, {"max_depth": 3})
GBT_FIXED = {"n_estimators": 100, "learning_rate": 0.1, "subsample": 0.8, "min_samples_leaf": 3}
LEARNERS = ("ridge", "gbt", "mean")


def prepare(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Impute with training medians, drop columns constant or empty in training, clip test values to the
    training range (no linear extrapolation beyond what the fit has seen), standardise by training."""
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
    test = np.clip(test, train.min(axis=0), train.max(axis=0))
    mu, sd = train.mean(axis=0), train.std(axis=0)
    varying = sd > 1e-12 * np.maximum(1.0, np.abs(mu))
    return (train[:, varying] - mu[varying]) / sd[varying], (test[:, varying] - mu[varying]) / sd[varying]


def ridge_path(z_train: np.ndarray, y_train: np.ndarray, z_test: np.ndarray,
               alphas: np.ndarray = RIDGE_ALPHAS) -> np.ndarray:
    """Ridge predictions of the test rows for every α (columns), from one SVD of the training design."""
    mean = y_train.mean()
    if z_train.shape[1] == 0:
        return np.full((len(z_test), len(alphas)), mean)
    zc = z_train - z_train.mean(axis=0)
    u, s, vt = np.linalg.svd(zc, full_matrices=False)
    uty = u.T @ (y_train - mean)
    shrink = s[:, None] / (s[:, None] ** 2 + alphas[None, :])  # (k, n_alphas)
    coef = vt.T @ (shrink * uty[:, None])  # (p, n_alphas)
    return mean + (z_test - z_train.mean(axis=0)) @ coef


def inner_folds(groups: np.ndarray, seed: int) -> list[np.ndarray]:
    """Validation masks of the inner cross-validation over the training rows (see module docstring)."""
    levels = np.unique(groups)
    if len(levels) >= 3:
        return [groups == level for level in levels]
    n = len(groups)
    k = min(5, n)
    order = np.random.default_rng(seed).permutation(n)
    folds = np.array_split(order, k)
    out = []
    for fold in folds:
        mask = np.zeros(n, bool)
        mask[fold] = True
        out.append(mask)
    return out


def _gbt(seed: int, params: Mapping[str, Any]):
    from sklearn.ensemble import GradientBoostingRegressor

    return GradientBoostingRegressor(random_state=seed, **{**GBT_FIXED, **params})


def _gbt_predict(x_train, y_train, x_test, seed, params) -> np.ndarray:
    if x_train.shape[1] == 0:
        return np.full(len(x_test), y_train.mean())
    return _gbt(seed, params).fit(x_train, y_train).predict(x_test)


def fit_predict(learner: str, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
                groups_train: np.ndarray, seed: int = 0) -> np.ndarray:
    """Tune ``learner`` by inner CV on the training rows, refit on all of them, predict the test rows."""
    if learner == "mean" or len(y_train) < 4:
        return np.full(len(x_test), float(np.mean(y_train)))
    folds = inner_folds(groups_train, seed)
    if learner == "ridge":
        sse = np.zeros(len(RIDGE_ALPHAS))
        for val in folds:
            ztr, zval = prepare(x_train[~val], x_train[val])
            sse += ((ridge_path(ztr, y_train[~val], zval) - y_train[val, None]) ** 2).sum(axis=0)
        alpha = RIDGE_ALPHAS[int(np.argmin(sse))]
        ztr, zte = prepare(x_train, x_test)
        return ridge_path(ztr, y_train, zte, np.array([alpha]))[:, 0]
    if learner == "gbt":
        sse = np.zeros(len(GBT_GRID))
        for val in folds:
            ztr, zval = prepare(x_train[~val], x_train[val])
            for i, params in enumerate(GBT_GRID):
                sse[i] += ((_gbt_predict(ztr, y_train[~val], zval, seed, params) - y_train[val]) ** 2).sum()
        ztr, zte = prepare(x_train, x_test)
        return _gbt_predict(ztr, y_train, zte, seed, GBT_GRID[int(np.argmin(sse))])
    raise ValueError(f"unknown learner {learner!r}; known: {', '.join(LEARNERS)}")


def out_of_fold(learner: str, x: np.ndarray, y: np.ndarray, groups: np.ndarray, seed: int = 0,
                centred: bool = False) -> np.ndarray:
    """Leave-one-group-out predictions (NaN for a fold with fewer than 3 training rows or a single group).

    ``centred``: each prediction minus its fold's training mean of ``y``, for ranking the held-out groups against
    each other: the training mean is lower when a high group is held out, so raw predictions of an uninformative
    model rank the groups in reverse (the leave-one-out mean shift)."""
    pred = np.full(len(y), np.nan)
    levels = np.unique(groups)
    if len(levels) < 2:
        return pred
    for level in levels:
        test = groups == level
        if (~test).sum() < 3:
            continue
        pred[test] = fit_predict(learner, x[~test], y[~test], x[test], groups[~test], seed=seed)
        if centred:
            pred[test] -= y[~test].mean()
    return pred
