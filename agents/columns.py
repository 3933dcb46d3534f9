"""Events to columns: what a DetectorBank update takes (one numpy array per field).

Examples
--------
>>> from streams.records import make_event
>>> evs = [make_event(model="m", version="1.0.0", ts=1.0 + i, latency_ms=10.0 * i, prediction=i,
...                   features={"lang": ["en", "de"][i % 2], "chars": i * 3}) for i in range(3)]
>>> cols = to_columns(evs)
>>> cols.latency_ms.tolist(), cols.features["chars"].tolist(), cols.features["lang"].tolist()
([0.0, 10.0, 20.0], [0.0, 3.0, 6.0], ['en', 'de', 'en'])
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter, itemgetter

import numpy as np

from streams.records import ColumnBatch, EventBatch, PredictionEvent

_NAN = float("nan")


_TRUTH, _FEATURES = attrgetter("ground_truth"), attrgetter("features")


@dataclass
class Columns:
    ts: np.ndarray
    latency_ms: np.ndarray
    prediction: np.ndarray
    ground_truth: np.ndarray  # NaN where absent
    features: dict[str, np.ndarray]  # float64 (NaN = missing) or object arrays of str (None = missing)

    def __len__(self) -> int:
        return len(self.ts)

    def slice(self, start: int, stop: int) -> Columns:
        """Rows ``start:stop`` (numpy views)."""
        return Columns(self.ts[start:stop], self.latency_ms[start:stop], self.prediction[start:stop],
                       self.ground_truth[start:stop], {k: v[start:stop] for k, v in self.features.items()})

    @classmethod
    def concat(cls, parts: list[Columns]) -> Columns:
        """One Columns of several, in order; a feature missing from a part is missing in its rows.

        Gives what :func:`to_columns` gives for all their events at once (a feature whose parts
        differ in kind is rebuilt from its values by :func:`column`).
        """
        if len(parts) == 1:
            return parts[0]
        features: dict[str, np.ndarray] = {}
        for k in sorted(set().union(*(p.features for p in parts))):
            cols = [p.features.get(k) for p in parts]
            kinds = {None if c is None else c.dtype.kind for c in cols}
            if len(kinds) == 1 and None not in kinds:
                features[k] = np.concatenate(cols)
            else:
                values: list = []
                for p, c in zip(parts, cols):
                    if c is None:
                        values.extend([None] * len(p))
                    else:  # NaN in a numeric part is a missing value (JSON has no NaN)
                        values.extend([None if v != v else v for v in c.tolist()])  # noqa: PLR0124
                features[k] = column(values)
        return cls(*(np.concatenate([getattr(p, f) for p in parts])
                     for f in ("ts", "latency_ms", "prediction", "ground_truth")), features)


def to_columns(events: list[PredictionEvent]) -> Columns:
    """Columns of prediction events (feedback events must be filtered out by the caller).

    An :class:`~streams.records.EventBatch` brings ts, latency and prediction already as arrays.
    """
    n = len(events)
    if isinstance(events, EventBatch):
        ts, latency, prediction = events.ts, events.latency_ms, events.prediction
    else:
        ts = np.fromiter((e.ts for e in events), np.float64, n)
        latency = np.fromiter((e.latency_ms for e in events), np.float64, n)
        prediction = np.fromiter((e.prediction for e in events), np.float64, n)
    gt = np.array(list(map(_TRUTH, events)), dtype=np.float64) if n else np.empty(0)  # None -> NaN
    features: dict[str, np.ndarray] = {}
    feats = list(map(_FEATURES, events))
    first = feats[0] if n else {}
    try:  # the common case: every event has the first one's keys (and no others)
        same_keys = sum(map(len, feats)) == n * len(first)
        if same_keys:
            for k in sorted(first):
                features[k] = column(list(map(itemgetter(k), feats)))
    except KeyError:
        same_keys = False
    if not same_keys:
        for k in sorted(set().union(*feats)):
            features[k] = column([f.get(k) for f in feats])
    return Columns(ts, latency, prediction, gt, features)


def from_column_batch(batch: ColumnBatch) -> Columns:
    """Columns of a columnar (v2) envelope: what :func:`to_columns` gives for the same events
    (a feature that no event has is left out, as it is when no event of a v1 message has it)."""
    n = len(batch)
    features = {k: column(values) for k, values in sorted(batch.features.items()) if values.count(None) != n}
    return Columns(batch.ts, batch.latency_ms, batch.prediction, batch.ground_truth, features)


def column(values: list) -> np.ndarray:
    """A numeric column when every present value is a number (not a boolean), else categorical.

    Booleans become the strings ``"true"``/``"false"``; missing values are NaN or None.
    """
    if values:
        types = set(map(type, values))
        first = type(values[0])
        if len(types) == 1:  # homogeneous lists (the common case) take numpy's C path
            if first is float or first is int:
                return np.array(values, dtype=np.float64)
            if first is str:
                return np.array(values, dtype=object)
    numeric = True
    for v in values:
        t = type(v)
        if t is not float and t is not int and v is not None:
            numeric = False
            break
    if numeric:
        return np.array([_NAN if v is None else v for v in values], dtype=np.float64)
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        if v is None:
            out[i] = None
        elif v is True:
            out[i] = "true"
        elif v is False:
            out[i] = "false"
        else:
            out[i] = v if type(v) is str else repr(v)
    return out
