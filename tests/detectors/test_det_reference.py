import json

import numpy as np
import pytest

from detectors.reference import Reference, ReferenceBuilder, infer_kind


def test_kinds_are_inferred_per_field():
    ref = Reference.from_samples({
        "f": np.array([1.5, 2.5]), "i": [1, 2, 3], "s": np.array(["a", "b"], dtype=object),
        "b": [True, False], "mixed": [1, "x"], "obj_num": np.array([1.0, None, 3.0], dtype=object)})
    assert {k: ref.kind(k) for k in ref.fields} == {
        "f": "numeric", "i": "numeric", "s": "categorical", "b": "categorical",
        "mixed": "categorical", "obj_num": "numeric"}
    assert ref["b"].as_counts() == {"false": 1, "true": 1}
    assert ref["mixed"].as_counts() == {"1": 1, "x": 1}
    assert ref["obj_num"].values.tolist() == [1.0, 3.0]


def test_missing_values_dropped_and_empty_fields_left_out():
    ref = Reference.from_samples({"x": [np.nan, np.nan], "c": [None, None], "y": [np.inf, 1.0]})
    assert list(ref.fields) == ["y"] and ref["y"].values.tolist() == [1.0]


def test_json_round_trip():
    rng = np.random.default_rng(0)
    ref = Reference.from_samples({"x": rng.normal(size=100), "c": rng.choice(["a", "b"], 100)})
    text = json.dumps(ref.to_dict(), allow_nan=False)
    back = Reference.from_dict(json.loads(text))
    assert np.array_equal(back["x"].values, np.sort(ref["x"].values))
    assert back["c"].as_counts() == ref["c"].as_counts()


def test_bad_version_and_kind_rejected():
    with pytest.raises(ValueError, match="v"):
        Reference.from_dict({"v": 2, "fields": {}})
    with pytest.raises(ValueError, match="kind"):
        Reference.from_dict({"v": 1, "fields": {"x": {"kind": "text"}}})


def test_builder_takes_exactly_the_first_n_events():
    b = ReferenceBuilder(size=5)
    assert b.update_many({"x": np.array([1.0, np.nan, 3.0]), "c": np.array(["a", None, "b"], dtype=object)}) == 3
    assert not b.complete
    assert b.update_many({"x": np.array([4.0, 5.0, 6.0]), "c": np.array(["a", "a", "z"], dtype=object)}) == 2
    assert b.complete and b.update_many({"x": np.array([7.0])}) == 0
    ref = b.reference()
    assert ref["x"].values.tolist() == [1.0, 3.0, 4.0, 5.0]
    assert ref["c"].as_counts() == {"a": 3, "b": 1}
    again = ReferenceBuilder.from_dict(json.loads(json.dumps(b.to_dict())))
    assert again.reference().to_dict() == ref.to_dict()


def test_infer_kind_of_plain_lists():
    assert infer_kind([1, 2.5]) == "numeric" and infer_kind(["a"]) == "categorical"
    assert infer_kind([True]) == "categorical"


def test_builder_rejects_bad_size():
    with pytest.raises(ValueError, match="size"):
        ReferenceBuilder(size=0)
