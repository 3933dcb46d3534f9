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

import numpy as np

from streams.records import PredictionEvent

_NAN = float("nan")


@dataclass
class Columns:
    ts: np.ndarray
    latency_ms: np.ndarray
    prediction: np.ndarray
    ground_truth: np.ndarray  # NaN where absent
    features: dict[str, np.ndarray]  # float64 (NaN = missing) or object arrays of str (None = missing)
    event_ids: list[str]

    def __len__(self) -> int:
        return len(self.ts)


def to_columns(events: list[PredictionEvent]) -> Columns:
    """Columns of prediction events (feedback events must be filtered out by the caller)."""
    n = len(events)
    ts = np.fromiter((e.ts for e in events), np.float64, n)
    latency = np.fromiter((e.latency_ms for e in events), np.float64, n)
    prediction = np.fromiter((e.prediction for e in events), np.float64, n)
    gt = np.fromiter((_NAN if e.ground_truth is None else e.ground_truth for e in events), np.float64, n)
    features: dict[str, np.ndarray] = {}
    first = events[0].features if n else {}
    keys: set[str] = set()
    same_keys = True
    for e in events:
        f = e.features
        if f is not first and f.keys() != first.keys():
            same_keys = False
            keys.update(f)
    keys.update(first)
    for k in sorted(keys):
        if same_keys:
            values = [e.features[k] for e in events]
        else:
            values = [e.features.get(k) for e in events]
        features[k] = column(values)
    return Columns(ts, latency, prediction, gt, features, [e.event_id for e in events])


def column(values: list) -> np.ndarray:
    """A numeric column when every present value is a number (not a boolean), else categorical.

    Booleans become the strings ``"true"``/``"false"``; missing values are NaN or None.
    """
    if values:
        first = type(values[0])
        if (first is float or first is int or first is str) and all(type(v) is first for v in values):
            arr = np.array(values)  # homogeneous lists (the common case) take numpy's C path
            kind = arr.dtype.kind
            if kind in "if":
                return arr.astype(np.float64, copy=False)
            if kind == "U":
                return arr.astype(object)
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
