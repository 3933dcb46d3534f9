"""Online anomaly detectors with one surface: River HalfSpaceTrees, River OneClassSVM and a numpy
reconstruction-error detector (online linear autoencoder = PCA on a running covariance).

Every detector takes one observation per ``update(x)`` (a mapping feature -> float), scores it
*before* learning it, and judges it against a quantile threshold: the ``q`` quantile (exact,
``numpy.quantile``'s linear method) of its last ``score_window`` scores, refreshed every ``refresh`` updates.
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
from ._quantile import quantile
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
                    self.threshold = quantile(self._scores[:k], self.q)
        if self.learn_anomalies or not self.anomaly_detected:
            self._learn(xs)
            self.n_learned += 1

    def update_many(self, X: np.ndarray, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """``_update_finite`` for each row of ``X`` (finite floats, columns named ``names``), in order.

        Returns each row's ``score`` (NaN where it is None) and ``anomaly_detected``; afterwards the
        detector is exactly as after the same rows one by one.
        """
        m = X.shape[0]
        scores, detected = np.full(m, np.nan), np.zeros(m, dtype=bool)
        for i, row in enumerate(X.tolist()):
            self._update_finite(dict(zip(names, row)))
            if self.score is not None:
                scores[i], detected[i] = self.score, self.anomaly_detected
        return scores, detected

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

    @property
    def model(self) -> river_anomaly.HalfSpaceTrees:
        """The River model, with the masses the batch path keeps in arrays written back first."""
        if self._masses is not None:
            r, lm = self._masses
            self._masses = None
            for tree, rs, ls in zip(self._flat_cache[1][0], r.tolist(), lm.tolist()):
                for node, rv, lv in zip(tree, rs, ls):
                    node.r_mass, node.l_mass = rv, lv
        return self._model

    @model.setter
    def model(self, value: river_anomaly.HalfSpaceTrees) -> None:
        self._model, self._masses, self._flat_cache = value, None, None

    def _reset_model(self) -> None:
        self.model = river_anomaly.HalfSpaceTrees(n_trees=self.n_trees, height=self.height,
                                                  window_size=self.window_size,
                                                  limits=dict(self.limits) or None, seed=self.seed)

    def _score(self, x):
        return float(self.model.score_one(x))

    def _learn(self, x) -> None:
        self.model.learn_one(x)

    def update_many(self, X: np.ndarray, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """The rows of ``X`` one after another, as ``_update_finite`` would take them, in numpy.

        Exact, not an approximation: with every split feature present a row's path through a
        tree does not depend on the masses, and the masses a score reads (River's ``r_mass``) only
        change when River pivots its mass window.  So the rows go in segments that end where the
        row-by-row run would change something a later row reads (a pivot, a threshold refresh,
        the end of the warm-up), and within a segment they are scored and learned at once.
        River's model stays the state of record: ``counter`` and the first-window flag are kept
        on it, and the masses, kept in arrays between batches, are written back to its nodes
        whenever ``model`` is read (``to_dict``, a row-by-row ``update``).
        """
        X = np.asarray(X, dtype=np.float64)
        m = X.shape[0]
        scores, detected = np.full(m, np.nan), np.zeros(m, dtype=bool)
        i = 0
        while i < m and not self._model.trees:  # River builds its trees at the first learn
            scores[i:i + 1], detected[i:i + 1] = super().update_many(X[i:i + 1], names)
            i += 1
        flat = self._flat(names) if i < m else None
        if flat is None:  # a split feature is not among the columns: River's own path
            if i < m:
                s, d = super().update_many(X[i:], names)
                scores[i:], detected[i:] = s, d
            return scores, detected
        nodes, feat, thr = flat
        model, h = self._model, self.height
        t_idx = np.arange(len(nodes))[:, None]
        n_nodes = feat.shape[1]
        if self._masses is None:
            r = np.array([[node.r_mass for node in tree] for tree in nodes], dtype=np.int64)
            lm = np.array([[node.l_mass for node in tree] for tree in nodes], dtype=np.int64)
        else:
            r, lm = self._masses
        rows = X[i:]
        mm = rows.shape[0]
        path = np.zeros((len(nodes), mm, h + 1), dtype=np.intp)  # node (heap index) at each depth
        node = path[:, :, 0]
        ar = np.arange(mm)
        for d in range(h):
            node = 2 * node + 1 + ~(rows[ar, feat[t_idx, node]] < thr[t_idx, node])
            path[:, :, d + 1] = node
        weight = 1 << np.arange(h + 1, dtype=np.int64)
        size_limit = 0.1 * model.window_size
        j = 0
        while j < mm:
            scoring = self.n_learned >= self.warmup
            if scoring:
                n0 = self._n_scores
                if self.threshold is None:
                    k = max(self.min_scores - n0, 1)  # the row whose score sets the first threshold
                else:  # the next row whose score count is a multiple of refresh
                    c = max(n0 + 1, self.min_scores)
                    k = -(-c // self.refresh) * self.refresh - n0
                end = min(mm, j + k)
            else:
                end = min(mm, j + self.warmup - self.n_learned)
            seg = slice(j, end)
            if scoring and not model._first_window:
                R = r[t_idx[:, :, None], path[:, seg]]  # (trees, rows, depth)
                stop = R[:, :, :h] < size_limit
                last = np.where(stop.any(axis=2), stop.argmax(axis=2), h)
                upto = np.arange(h + 1) <= last[:, :, None]  # River stops below a light node
                s = 1 - (R * weight * upto).sum(axis=(0, 2)) / model._max_score
            else:
                s = np.zeros(end - j)
            judged = scoring and self.threshold is not None
            det = s > self.threshold if judged else np.zeros(end - j, dtype=bool)
            learned = np.ones(end - j, dtype=bool) if self.learn_anomalies else ~det
            room = model.window_size - model.counter
            cum = np.cumsum(learned)
            if cum[-1] >= room:  # River pivots after this row: the rows after it read new masses
                cut = int(np.argmax(cum >= room)) + 1
                end, s, det, learned = j + cut, s[:cut], det[:cut], learned[:cut]
            n = end - j
            self.n_seen += n
            if scoring:
                keep = min(n, self.score_window)
                self._scores[(self._n_scores + np.arange(n - keep, n)) % self.score_window] = s[n - keep:]
                self._n_scores += n
                if judged:
                    scores[i + j:i + end], detected[i + j:i + end] = s, det
                    self.n_anomalies += int(det.sum())
                if self._n_scores >= self.min_scores and (self.threshold is None or
                                                          self._n_scores % self.refresh == 0):
                    k = min(self._n_scores, self.score_window)
                    self.threshold = quantile(self._scores[:k], self.q)
            self.score = float(s[-1]) if judged else None
            self.anomaly_detected = bool(det[-1])
            n_learned = int(learned.sum())
            if n_learned:
                hit = path[:, j:end][:, learned] + t_idx[:, :, None] * n_nodes
                lm += np.bincount(hit.ravel(), minlength=lm.size).reshape(lm.shape)
                self.n_learned += n_learned
                model.counter += n_learned
                if model.counter == model.window_size:
                    r, lm = lm, np.zeros_like(lm)
                    model._first_window = False
                    model.counter = 0
            j = end
        self._masses = r, lm
        return scores, detected

    def _flat(self, names: list[str]):
        """River's trees in heap order (children of k at 2k+1, 2k+2): their nodes, and each
        branch's split column (index into ``names``) and threshold; None if a split feature is
        not in ``names``.  Cached per River model (its trees never change shape)."""
        key = (self._model, tuple(names))
        cached = self._flat_cache
        if cached is not None and cached[0][0] is key[0] and cached[0][1] == key[1]:
            return cached[1]
        col = {name: c for c, name in enumerate(names)}
        nodes, feats, thrs = [], [], []
        for root in self._model.trees:
            level, order = [root], []
            while level:
                order.extend(level)
                level = [c for n in level for c in getattr(n, "children", ())]
            if len(order) != 2 ** (self.height + 1) - 1:
                return None
            branch = order[: 2 ** self.height - 1]
            if any(n.feature not in col for n in branch):
                return None
            nodes.append(order)
            feats.append([col[n.feature] for n in branch] + [0] * (len(order) - len(branch)))
            thrs.append([n.threshold for n in branch] + [0.0] * (len(order) - len(branch)))
        flat = nodes, np.array(feats, dtype=np.intp), np.array(thrs, dtype=np.float64)
        self._flat_cache = (key, flat)
        return flat

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
