"""The reference a window is compared with: per field, a numeric sample or categorical counts.

A :class:`Reference` is built from an explicit sample (:meth:`Reference.from_samples`, e.g. the
evaluation set kept in the registry) or from the first N events of a stream
(:class:`ReferenceBuilder`).  It serialises to plain JSON (:meth:`Reference.to_dict`) so it can live
in the registry and in worker state.

Field kinds are inferred per field: int/float values are *numeric* (NaN/None = missing, dropped);
strings are *categorical* (None = missing, dropped); booleans become the categories ``"true"`` /
``"false"`` (as the worker delivers them).  A field whose sample mixes numbers and strings is
categorical, every value taken as ``str``.

Examples
--------
>>> ref = Reference.from_samples({"x": [1.0, 2.0, float("nan"), 4.0],
...                               "country": ["fr", "de", "fr", None], "flag": [True, False, True, True]})
>>> ref.kind("x"), ref.kind("country"), ref["x"].values.tolist()
('numeric', 'categorical', [1.0, 2.0, 4.0])
>>> ref["country"].as_counts(), ref["flag"].as_counts()
({'de': 1, 'fr': 2}, {'false': 1, 'true': 3})
>>> Reference.from_dict(ref.to_dict()).to_dict() == ref.to_dict()
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from ._checks import check_int, to_float_column

NUMERIC = "numeric"
CATEGORICAL = "categorical"


def _category(v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    return str(v)


def infer_kind(values) -> str:
    """``"numeric"`` or ``"categorical"`` for a column (see the module docstring)."""
    arr = np.asarray(values) if not isinstance(values, np.ndarray) else values
    if arr.dtype.kind in "fiu":
        return NUMERIC
    if arr.dtype.kind in "bUS":
        return CATEGORICAL
    present = [v for v in arr.tolist() if v is not None]
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return NUMERIC
    return CATEGORICAL


class NumericReference:
    """Finite values of one numeric field, sorted; summary values used by the drift tests."""

    kind = NUMERIC

    def __init__(self, values) -> None:
        v = np.asarray(values, dtype=np.float64)
        self.values = np.sort(v[np.isfinite(v)])
        self.n = int(self.values.size)
        self.mean = float(self.values.mean()) if self.n else math.nan
        self.std = float(self.values.std(ddof=1)) if self.n >= 2 else math.nan

    def to_dict(self) -> dict:
        return {"kind": NUMERIC, "values": self.values.tolist()}


class CategoricalReference:
    """Counts of one categorical field (categories sorted)."""

    kind = CATEGORICAL

    def __init__(self, counts: Mapping[str, int]) -> None:
        items = sorted((str(k), int(c)) for k, c in counts.items() if c > 0)
        self.categories = [k for k, _ in items]
        self.counts = np.array([c for _, c in items], dtype=np.int64)
        self.index = {k: i for i, k in enumerate(self.categories)}
        self.n = int(self.counts.sum())

    @classmethod
    def from_values(cls, values) -> CategoricalReference:
        present = [_category(v) for v in np.asarray(values, dtype=object).tolist() if v is not None]
        u, c = np.unique(np.array(present, dtype=str), return_counts=True) if present else ([], [])
        return cls(dict(zip(list(u), [int(x) for x in c])))

    def as_counts(self) -> dict[str, int]:
        return dict(zip(self.categories, self.counts.tolist()))

    def to_dict(self) -> dict:
        return {"kind": CATEGORICAL, "counts": self.as_counts()}


FieldReference = NumericReference | CategoricalReference


class Reference:
    """Per-field reference samples (numeric) or counts (categorical).

    Fields with no usable value (all missing) are left out.
    """

    def __init__(self, fields: Mapping[str, FieldReference]) -> None:
        self.fields = {k: f for k, f in fields.items() if f.n > 0}

    @classmethod
    def from_samples(cls, fields: Mapping[str, Sequence]) -> Reference:
        """Build from explicit samples, one sequence per field, kind inferred per field."""
        out: dict[str, FieldReference] = {}
        for name, values in fields.items():
            if infer_kind(values) == NUMERIC:
                out[name] = NumericReference(to_float_column(values))
            else:
                out[name] = CategoricalReference.from_values(values)
        return cls(out)

    def __getitem__(self, name: str) -> FieldReference:
        return self.fields[name]

    def __contains__(self, name: str) -> bool:
        return name in self.fields

    def kind(self, name: str) -> str:
        return self.fields[name].kind

    def to_dict(self) -> dict:
        return {"v": 1, "fields": {k: f.to_dict() for k, f in self.fields.items()}}

    @classmethod
    def from_dict(cls, d: dict) -> Reference:
        if d.get("v") != 1:
            raise ValueError(f"reference v must be 1, got {d.get('v')!r}")
        out: dict[str, FieldReference] = {}
        for name, f in d["fields"].items():
            if f["kind"] == NUMERIC:
                out[name] = NumericReference(f["values"])
            elif f["kind"] == CATEGORICAL:
                out[name] = CategoricalReference(f["counts"])
            else:
                raise ValueError(f"field {name!r} kind must be 'numeric' or 'categorical', "
                                 f"got {f['kind']!r}")
        return cls(out)


class ReferenceBuilder:
    """Collect the first ``size`` events of a stream, then yield a :class:`Reference`.

    Events count whether or not a given field is present in them; a field's missing values are
    simply not part of its reference.

    Examples
    --------
    >>> b = ReferenceBuilder(size=3)
    >>> b.update_many({"x": [1.0, 2.0], "c": ["a", None]})
    2
    >>> b.complete
    False
    >>> b.update_many({"x": [3.0, 4.0], "c": ["b", "b"]})   # only the first row is taken
    1
    >>> b.complete, b.reference()["x"].values.tolist(), b.reference()["c"].as_counts()
    (True, [1.0, 2.0, 3.0], {'a': 1, 'b': 1})
    """

    def __init__(self, size: int = 1000) -> None:
        self.size = check_int("size", size, 1)
        self.reset()

    def reset(self) -> None:
        self.n = 0
        self._numeric: dict[str, list[float]] = {}
        self._counts: dict[str, dict[str, int]] = {}

    @property
    def complete(self) -> bool:
        return self.n >= self.size

    def update_many(self, columns: Mapping[str, np.ndarray]) -> int:
        """Take rows from equal-length ``columns`` until complete; returns rows consumed."""
        if self.complete or not columns:
            return 0
        n = len(next(iter(columns.values())))
        take = min(n, self.size - self.n)
        if take == 0:
            return 0
        for name, col in columns.items():
            col = col[:take]
            if name in self._counts or (name not in self._numeric and infer_kind(col) == CATEGORICAL):
                counts = self._counts.setdefault(name, {})
                for k, c in CategoricalReference.from_values(col).as_counts().items():
                    counts[k] = counts.get(k, 0) + c
            else:
                v = to_float_column(col)
                self._numeric.setdefault(name, []).extend(v[np.isfinite(v)].tolist())
        self.n += take
        return take

    def reference(self) -> Reference:
        fields: dict[str, FieldReference] = {k: NumericReference(v) for k, v in self._numeric.items()}
        fields.update({k: CategoricalReference(c) for k, c in self._counts.items()})
        return Reference(fields)

    def to_dict(self) -> dict:
        return {"size": self.size, "n": self.n, "numeric": self._numeric, "counts": self._counts}

    @classmethod
    def from_dict(cls, d: dict) -> ReferenceBuilder:
        b = cls(size=d["size"])
        b.n = d["n"]
        b._numeric = {k: list(v) for k, v in d["numeric"].items()}
        b._counts = {k: dict(v) for k, v in d["counts"].items()}
        return b
