"""Key layout and name validation (no Redis needed)."""

from __future__ import annotations

import pytest
import semver
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.keys import Keys, experiment_of_run, validate_model_name
from registry.models import parse_version, sort_versions


def _slot_tag(key: str) -> str:
    return key[key.index("{") + 1: key.index("}")]


def test_all_keys_of_one_model_share_one_hash_tag():
    mk = Keys().model("tok.counter-v2_x")
    assert {_slot_tag(k) for k in mk} == {"tok.counter-v2_x"}
    assert all(k.startswith("predwatch:{tok.counter-v2_x}:") for k in mk)
    assert len(set(mk)) == len(mk)


def test_run_keys_share_their_experiment_tag():
    k = Keys("p")
    run_id = "0123456789ab-abcdefabcdef"
    keys = [k.experiment("0123456789ab"), k.runs("0123456789ab"), k.run(run_id), k.run_params(run_id),
            k.run_metrics(run_id), k.run_series(run_id, "loss"), k.run_artifacts(run_id)]
    assert {_slot_tag(x) for x in keys} == {"exp:0123456789ab"}


@pytest.mark.parametrize("name", ["", "a b", "a:b", "a{b}", "x" * 129, None, 3, "é"])
def test_bad_model_names_are_rejected_with_the_value(name):
    with pytest.raises(ValueError, match="model name must be 1-128 characters"):
        validate_model_name(name)


@pytest.mark.parametrize("prefix", ["", "a{b", "has space", "x" * 101])
def test_bad_prefix(prefix):
    with pytest.raises(ValueError, match="prefix must be"):
        Keys(prefix)


@pytest.mark.parametrize("run_id", ["", "abc", "0123456789ab", "0123456789AB-abcdefabcdef", "x-y"])
def test_bad_run_ids(run_id):
    with pytest.raises(ValueError, match="run_id must look like"):
        experiment_of_run(run_id)


@pytest.mark.parametrize("version", ["1", "1.0", "v1.0.0", "1.0.0.0", "01.0.0", "1.0.0-", "", None, "latest"])
def test_bad_versions(version):
    with pytest.raises(ValueError, match="semantic version"):
        parse_version(version)


def test_semver_precedence_including_prerelease_and_build():
    # the example ordering of semver 2.0 section 11, shuffled, plus build metadata
    ordered = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
               "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1+build.5", "1.10.0", "2.0.0"]
    shuffled = ordered[::3] + ordered[1::3] + ordered[2::3]
    assert sort_versions(shuffled) == ordered
    # build metadata does not change precedence; equal precedence falls back to the text
    assert sort_versions(["1.0.0+b", "1.0.0+a", "1.0.0-rc.1"]) == ["1.0.0-rc.1", "1.0.0+a", "1.0.0+b"]


_ident = st.one_of(st.integers(0, 20).map(str), st.text("abcxyz-", min_size=1, max_size=4))
_version = st.builds(
    lambda core, pre, build: ".".join(map(str, core)) + (f"-{'.'.join(pre)}" if pre else "")
    + (f"+{'.'.join(build)}" if build else ""),
    st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 3)),
    st.lists(_ident, max_size=3),
    st.lists(st.text("abc123", min_size=1, max_size=3), max_size=2),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_version, min_size=1, max_size=12, unique=True))
def test_sort_versions_agrees_with_semver_precedence(versions):
    ordered = sort_versions(versions)
    assert sorted(ordered) == sorted(versions)
    for a, b in zip(ordered, ordered[1:]):
        assert semver.Version.parse(a).compare(b) <= 0
