"""Online anomaly detectors with one surface: River HalfSpaceTrees, River OneClassSVM and a numpy
reconstruction-error detector (online linear autoencoder = PCA on a running covariance).

Every detector takes one observation per ``update(x)`` (a mapping feature -> float), scores it
*before* learning it, and judges it against a quantile threshold: the ``q`` quantile (exact,
``numpy.quantile``) of its last ``score_window`` scores, refreshed every ``refresh`` updates.
``score`` is None and ``anomaly_detected`` False until ``warmup`` observations were learned and
``min_scores`` scores collected (never a made-up 0).  Observations judged anomalous are not
learned (``learn_anomalies=False``), as in river's ``QuantileFilter(protect_anomaly_detector=True)``.
An observation with a non-finite value is skipped (``n_skipped``): no score, no verdict, no learning.
A detector does not reset after an alarm: the verdict is per observation, and the model keeps
what it learned from the observations judged normal.

All three are deterministic for a given ``seed``.  State: the autoencoder's is plain JSON; the
River models travel pickled in base64 inside the dict (see ``detectors._state``).

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> det = ReconstructionAnomaly(n_components=1, warmup=50, seed=0)
>>> for t in rng.normal(size=300):
...     det.update({"a": t, "b": 2 * t + 0.05 * rng.normal()})
>>> det.update({"a": 1.0, "b": -2.0})          # breaks the a/b relation
>>> det.anomaly_detected
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from river import anomaly as river_anomaly
from river import feature_extraction, preprocessing

from ._checks import check_float, check_int
from ._state import dump_river, load_river


class _QuantileAnomaly:
    """Shared quantile-threshold logic; subclasses implement ``_score``, ``_learn``, state."""

    def __init__(self, q: float, warmup: int, score_window: int, refresh: int, min_scores: int,
                 learn_anomalies: bool, seed: int) -> None:
        self.q = check_float("q", q, 0.0, 1.0, lo_open=True, hi_open=True)
        self.warmup = check_int("warmup", warmup, 0)
        self.score_window = check_int("score_window", score_window, 10)
        self.refresh = check_int("refresh", refresh, 1)
        self.min_scores = check_int("min_scores", min_scores, 1, self.score_window)
        self.learn_anomalies = bool(learn_anomalies)
        self.seed = check_int("seed", seed, 0)

    def reset(self) -> None:
        self._scores = np.zeros(self.score_window)
        self._n_scores = 0
        self.threshold: float | None = None
        self.score: float | None = None
        self.anomaly_detected = False
        self.n_seen = 0
        self.n_learned = 0
        self.n_anomalies = 0
        self.n_skipped = 0
        self._reset_model()

    @property
    def is_warm(self) -> bool:
        return self.n_learned >= self.warmup and self.threshold is not None

    def update(self, x: Mapping[str, float]) -> None:
        """Score ``x``, judge it, then learn it unless it was judged anomalous."""
        self.score, self.anomaly_detected = None, False
        xs = {k: float(v) for k, v in x.items()}
        if not all(math.isfinite(v) for v in xs.values()):
            self.n_skipped += 1
            return
        self._update_finite(xs)

    def _update_finite(self, xs: dict[str, float]) -> None:
        """``update`` for a dict of finite floats (callers that already guarantee it)."""
        self.score, self.anomaly_detected = None, False
        self.n_seen += 1
        if self.n_learned >= self.warmup:
            s = self._score(xs)
            if s is not None:
                if self.threshold is not None:
                    self.score = s
                    self.anomaly_detected = s > self.threshold
                    self.n_anomalies += int(self.anomaly_detected)
                self._scores[self._n_scores % self.score_window] = s
                self._n_scores += 1
                if self._n_scores >= self.min_scores and (self.threshold is None or
                                                          self._n_scores % self.refresh == 0):
                    k = min(self._n_scores, self.score_window)
                    self.threshold = float(np.quantile(self._scores[:k], self.q))
        if self.learn_anomalies or not self.anomaly_detected:
            self._learn(xs)
            self.n_learned += 1

    def _base_state(self) -> dict:
        k = min(self._n_scores, self.score_window)
        return {"q": self.q, "warmup": self.warmup, "score_window": self.score_window,
                "refresh": self.refresh, "min_scores": self.min_scores,
                "learn_anomalies": self.learn_anomalies, "seed": self.seed,
                "scores": self._scores[:k].tolist(), "n_scores": self._n_scores,
                "threshold": self.threshold, "score": self.score,
                "anomaly_detected": self.anomaly_detected, "n_seen": self.n_seen,
                "n_learned": self.n_learned, "n_anomalies": self.n_anomalies,
                "n_skipped": self.n_skipped}

    def _restore_base(self, d: dict) -> None:
        k = len(d["scores"])
        self._scores[:k] = d["scores"]
        self._n_scores = d["n_scores"]
        self.threshold, self.score = d["threshold"], d["score"]
        self.anomaly_detected = d["anomaly_detected"]
        self.n_seen, self.n_learned = d["n_seen"], d["n_learned"]
        self.n_anomalies, self.n_skipped = d["n_anomalies"], d["n_skipped"]

    _BASE_KEYS = ("q", "warmup", "score_window", "refresh", "min_scores", "learn_anomalies", "seed")


class HalfSpaceTreesAnomaly(_QuantileAnomaly):
    """River ``HalfSpaceTrees`` behind the common surface.

    Parameters
    ----------
    limits
        Feature -> (low, high) range the trees split (River assumes [0, 1] otherwise).
    n_trees, height, window_size
        As in ``river.anomaly.HalfSpaceTrees`` (height 6 by default: ~25 µs per update).
    q, warmup, score_window, refresh, min_scores, learn_anomalies, seed
        See the module docstring.  ``warmup`` defaults to ``window_size`` (HST scores 0 during its
        first window).

    References
    ----------
    Tan, S. C., Ting, K. M. and Liu, T. F. (2011). Fast anomaly detection for streaming data. IJCAI.
    """

    kind = "halfspacetrees"

    def __init__(self, limits: Mapping[str, tuple[float, float]] | None = None, n_trees: int = 10,
                 height: int = 6, window_size: int = 250, q: float = 0.99, warmup: int | None = None,
                 score_window: int = 1000, refresh: int = 50, min_scores: int = 100,
                 learn_anomalies: bool = False, seed: int = 0) -> None:
        self.n_trees = check_int("n_trees", n_trees, 1)
        self.height = check_int("height", height, 1, 20)
        self.window_size = check_int("window_size", window_size, 1)
        self.limits = {k: (float(a), float(b)) for k, (a, b) in (limits or {}).items()}
        for k, (a, b) in self.limits.items():
            if not a < b:
                raise ValueError(f"limits[{k!r}] must have low < high, got {(a, b)!r}")
        super().__init__(q, self.window_size if warmup is None else warmup, score_window, refresh,
                         min_scores, learn_anomalies, seed)
        self.reset()

    def _reset_model(self) -> None:
        self.model = river_anomaly.HalfSpaceTrees(n_trees=self.n_trees, height=self.height,
                                                  window_size=self.window_size,
                                                  limits=dict(self.limits) or None, seed=self.seed)

    def _score(self, x):
        return float(self.model.score_one(x))

    def _learn(self, x) -> None:
        self.model.learn_one(x)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "n_trees": self.n_trees, "height": self.height,
                "window_size": self.window_size, "limits": {k: list(v) for k, v in self.limits.items()},
                **self._base_state(), "model": dump_river(self.model)}

    @classmethod
    def from_dict(cls, d: dict) -> HalfSpaceTreesAnomaly:
        o = cls(limits=d["limits"], n_trees=d["n_trees"], height=d["height"],
                window_size=d["window_size"], **{k: d[k] for k in cls._BASE_KEYS})
        o._restore_base(d)
        o.model = load_river(d["model"])
        return o


class OneClassSVMAnomaly(_QuantileAnomaly):
    """River ``OneClassSVM`` on standardised, RBF-expanded features, behind the common surface.

    The pipeline is ``StandardScaler | RBFSampler(n_components, seed) | OneClassSVM(nu)``, as the
    River documentation recommends (a linear one-class SVM on raw features separates little).
    The score is minus River's decision value ``w.x - rho``, so larger scores are more anomalous.

    Parameters
    ----------
    nu
        OneClassSVM ``nu`` in (0, 1].
    n_components
        Random Fourier features of the RBF sampler.
    gamma
        RBF kernel width of the sampler.
    """

    kind = "oneclasssvm"

    def __init__(self, nu: float = 0.5, n_components: int = 20, gamma: float = 0.2, q: float = 0.99,
                 warmup: int = 100, score_window: int = 1000, refresh: int = 50, min_scores: int = 100,
                 learn_anomalies: bool = False, seed: int = 0) -> None:
        self.nu = check_float("nu", nu, 0.0, 1.0, lo_open=True)
        self.n_components = check_int("n_components", n_components, 1)
        self.gamma = check_float("gamma", gamma, 0.0, lo_open=True)
        super().__init__(q, warmup, score_window, refresh, min_scores, learn_anomalies, seed)
        self.reset()

    def _reset_model(self) -> None:
        self.model = (preprocessing.StandardScaler()
                      | feature_extraction.RBFSampler(gamma=self.gamma, n_components=self.n_components,
                                                      seed=self.seed)
                      | river_anomaly.OneClassSVM(nu=self.nu))

    def _score(self, x):
        # river's OneClassSVM.score_one is the decision value w.x - rho: high = inlier
        return -float(self.model.score_one(x))

    def _learn(self, x) -> None:
        self.model.learn_one(x)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "nu": self.nu, "n_components": self.n_components,
                "gamma": self.gamma, **self._base_state(), "model": dump_river(self.model)}

    @classmethod
    def from_dict(cls, d: dict) -> OneClassSVMAnomaly:
        o = cls(nu=d["nu"], n_components=d["n_components"], gamma=d["gamma"],
                **{k: d[k] for k in cls._BASE_KEYS})
        o._restore_base(d)
        o.model = load_river(d["model"])
        return o


class ReconstructionAnomaly(_QuantileAnomaly):
    """Online linear autoencoder: reconstruction error after projecting on the top principal axes.

    Keeps a running mean and covariance (Welford); every ``refit_every`` learned observations the
    top ``n_components`` eigenvectors of the correlation matrix are refitted (``numpy.linalg.eigh``).
    The score is the squared error of reconstructing the standardised observation from its
    projection, i.e. what the observation has outside the learned linear structure.  Features are
    taken in sorted name order; the feature set is fixed by the first observation.

    Parameters
    ----------
    n_components
        Principal axes kept (>= 1; capped at d - 1 for d features).
    refit_every
        Learned observations between refits of the axes.
    """

    kind = "autoencoder"

    def __init__(self, n_components: int = 1, refit_every: int = 50, q: float = 0.99,
                 warmup: int = 100, score_window: int = 1000, refresh: int = 50, min_scores: int = 100,
                 learn_anomalies: bool = False, seed: int = 0) -> None:
        self.n_components = check_int("n_components", n_components, 1)
        self.refit_every = check_int("refit_every", refit_every, 1)
        super().__init__(q, warmup, score_window, refresh, min_scores, learn_anomalies, seed)
        self.reset()

    def _reset_model(self) -> None:
        self.features: list[str] | None = None
        self._n = 0
        self._mean: np.ndarray | None = None
        self._m2: np.ndarray | None = None
        self._axes: np.ndarray | None = None

    def _vec(self, x) -> np.ndarray:
        if self.features is None:
            self.features = sorted(x)
            d = len(self.features)
            self._mean, self._m2 = np.zeros(d), np.zeros((d, d))
        if set(x) != set(self.features):
            raise ValueError(f"x must have the features {self.features}, got {sorted(x)}")
        return np.array([x[k] for k in self.features])

    def _std(self) -> np.ndarray:
        sd = np.sqrt(np.diag(self._m2) / max(self._n - 1, 1))
        return np.where(sd > 0, sd, 1.0)

    def _refit(self) -> None:
        sd = self._std()
        corr = self._m2 / max(self._n - 1, 1) / np.outer(sd, sd)
        _, vecs = np.linalg.eigh(corr)
        k = min(self.n_components, max(len(self.features) - 1, 1))
        self._axes = np.ascontiguousarray(vecs[:, ::-1][:, :k])  # same layout as when restored

    def _score(self, x):
        v = self._vec(x)
        if self._axes is None:
            return None
        z = (v - self._mean) / self._std()
        r = z - self._axes @ (self._axes.T @ z)
        return float(r @ r)

    def _learn(self, x) -> None:
        v = self._vec(x)
        self._n += 1
        delta = v - self._mean
        self._mean += delta / self._n
        self._m2 += np.outer(delta, v - self._mean)
        if self._n >= 2 and (self._axes is None and self._n >= min(self.warmup, 10) or
                             self._n % self.refit_every == 0):
            self._refit()

    def to_dict(self) -> dict:
        return {"kind": self.kind, "n_components": self.n_components, "refit_every": self.refit_every,
                **self._base_state(), "features": self.features, "n": self._n,
                "mean": None if self._mean is None else self._mean.tolist(),
                "m2": None if self._m2 is None else self._m2.tolist(),
                "axes": None if self._axes is None else self._axes.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> ReconstructionAnomaly:
        o = cls(n_components=d["n_components"], refit_every=d["refit_every"],
                **{k: d[k] for k in cls._BASE_KEYS})
        o._restore_base(d)
        o.features, o._n = d["features"], d["n"]
        for attr, key in (("_mean", "mean"), ("_m2", "m2"), ("_axes", "axes")):
            setattr(o, attr, None if d[key] is None else np.array(d[key], dtype=np.float64))
        return o


ANOMALY_DETECTORS = {c.kind: c for c in (HalfSpaceTreesAnomaly, OneClassSVMAnomaly, ReconstructionAnomaly)}


def anomaly_from_dict(d: dict):
    """Restore any of the anomaly detectors from its ``to_dict()``."""
    if d.get("kind") not in ANOMALY_DETECTORS:
        raise ValueError(f"kind must be one of {tuple(ANOMALY_DETECTORS)}, got {d.get('kind')!r}")
    return ANOMALY_DETECTORS[d["kind"]].from_dict(d)
