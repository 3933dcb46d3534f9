"""Serialising River objects: pickle, base64-encoded, inside the plain-JSON state dict.

River detectors (HalfSpaceTrees' trees, ADWIN's bucket rows, OneClassSVM's optimizer state) have no
stable public state format, so their state travels as ``{"pickle_b64": ..., "river": version}``.
Only load state you wrote yourself: unpickling runs code.  Restoring with another River version
raises ValueError rather than guessing.
"""

from __future__ import annotations

import base64
import pickle

import river


def dump_river(obj) -> dict:
    return {"river": river.__version__,
            "pickle_b64": base64.b64encode(pickle.dumps(obj, protocol=4)).decode("ascii")}


def load_river(d: dict):
    if d.get("river") != river.__version__:
        raise ValueError(f"state river version must be {river.__version__!r}, got {d.get('river')!r}")
    return pickle.loads(base64.b64decode(d["pickle_b64"]))
