"""Registration, reads, ordering, compatibility and metadata search against a real Redis."""

from __future__ import annotations

import pytest

from registry import DuplicateVersion, ModelNotFound, Stage, VersionNotFound

pytestmark = pytest.mark.services


def test_register_and_get_round_trip(registry):
    mv = registry.register_model("tok", "1.2.3", {"tokenizer": "cl100k", "params": {"n": 3}}, model_path="s3://m/1")
    assert mv.stage is Stage.DEVELOPMENT
    got = registry.get("tok", "1.2.3")
    assert got.metadata == {"tokenizer": "cl100k", "params": {"n": 3}}
    assert got.model_path == "s3://m/1"
    assert got.stage is Stage.DEVELOPMENT
    assert got.created_at == pytest.approx(mv.created_at)
    assert registry.list_models() == ["tok"]
    assert [t.kind for t in registry.history("tok")] == ["register"]


def test_duplicate_version_rejected_and_original_kept(registry):
    registry.register_model("tok", "1.0.0", {"a": 1})
    with pytest.raises(DuplicateVersion) as err:
        registry.register_model("tok", "1.0.0", {"a": 2})
    assert (err.value.model, err.value.version) == ("tok", "1.0.0")
    assert isinstance(err.value, ValueError)
    assert registry.get("tok", "1.0.0").metadata == {"a": 1}
    assert len(registry.history("tok")) == 1


def test_versions_in_semver_order(registry):
    for v in ["1.0.0", "1.0.0-rc.1", "1.0.0-alpha", "0.9.0", "1.0.0-beta.11", "1.0.0-beta.2", "1.0.1+build.7"]:
        registry.register_model("tok", v)
    assert [mv.version for mv in registry.list_versions("tok")] == [
        "0.9.0", "1.0.0-alpha", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1+build.7"]


def test_build_metadata_variants_are_distinct_versions_ordered_by_registration(registry):
    registry.register_model("tok", "1.0.0+b")
    registry.register_model("tok", "1.0.0+a")
    assert [mv.version for mv in registry.list_versions("tok")] == ["1.0.0+b", "1.0.0+a"]


def test_latest_version_by_stage_and_prerelease(staged):
    reg = staged
    reg.register_model("tok", "3.0.0-rc.1")
    assert reg.get_latest_version("tok").version == "3.0.0-rc.1"
    assert reg.get_latest_version("tok", include_prerelease=False).version == "2.0.0"
    assert reg.get_latest_version("tok", "staging").version == "2.0.0"
    assert reg.get_latest_version("tok", Stage.PRODUCTION) is None
    reg.promote_to_production("tok", "1.1.0")
    assert reg.get_latest_version("tok", "production").version == "1.1.0"
    with pytest.raises(ValueError, match="stage must be one of development, staging"):
        reg.get_latest_version("tok", "live")


def test_compatible_versions_same_major_not_older(registry):
    for v in ["1.0.0", "1.2.0", "1.3.0-rc.1", "1.3.0", "2.0.0", "0.9.0"]:
        registry.register_model("tok", v)
    assert [mv.version for mv in registry.get_compatible_versions("tok", "1.2.0")] == ["1.2.0", "1.3.0-rc.1", "1.3.0"]
    assert [mv.version for mv in registry.get_compatible_versions("tok", "1.2.5")] == ["1.3.0-rc.1", "1.3.0"]
    assert registry.get_compatible_versions("tok", "3.0.0") == []
    with pytest.raises(ValueError, match="semantic version"):
        registry.get_compatible_versions("tok", "1.2")


def test_search_by_metadata(registry):
    registry.register_model("tok", "1.0.0", {"family": "counter", "data": {"source": "wiki"}})
    registry.register_model("tok", "1.1.0", {"family": "counter", "data": {"source": "web"}})
    registry.register_model("zip", "0.1.0", {"family": "compressor"})
    assert [(m.name, m.version) for m in registry.search({"family": "counter"})] == [("tok", "1.0.0"), ("tok", "1.1.0")]
    assert [m.version for m in registry.search({"data.source": "web"})] == ["1.1.0"]
    assert [m.name for m in registry.search({}, name="zip")] == ["zip"]
    assert registry.search({"family": "counter"}, stage="staging") == []
    assert registry.search({"nope": 1}) == []
    with pytest.raises(ModelNotFound):
        registry.search({}, name="missing")


def test_unknown_model_and_version(registry):
    with pytest.raises(ModelNotFound) as err:
        registry.get("nope", "1.0.0")
    assert err.value.model == "nope" and isinstance(err.value, KeyError)
    assert "nope" in str(err.value)
    with pytest.raises(ModelNotFound):
        registry.list_versions("nope")
    with pytest.raises(ModelNotFound):
        registry.history("nope")
    registry.register_model("tok", "1.0.0")
    with pytest.raises(VersionNotFound) as err:
        registry.get("tok", "2.0.0")
    assert (err.value.model, err.value.version) == ("tok", "2.0.0")
    assert "registered: 1.0.0" in str(err.value)
    # hot-path lookups answer None instead
    assert registry.get_production_version("nope") is None
    assert registry.get_active_reference("nope") is None
    assert registry.get_reference("tok", "2.0.0") is None
    assert registry.get_alias("nope", "champion") is None
    assert registry.production_at("nope", 1e12) is None


@pytest.mark.parametrize("name", ["", "bad name", "a:b", "{tag}", "x" * 129])
def test_bad_model_names(registry, name):
    with pytest.raises(ValueError, match=r"model name must be 1-128 characters of \[A-Za-z0-9._-\], got"):
        registry.register_model(name, "1.0.0")


@pytest.mark.parametrize("version", ["1.0", "v1.0.0", "latest", "", "1.0.0.0", None])
def test_bad_versions(registry, version):
    with pytest.raises(ValueError, match="version must be a semantic version"):
        registry.register_model("tok", version)


@pytest.mark.parametrize("metadata", [["a"], "x", {"x": float("nan")}, {"x": object()}])
def test_bad_metadata(registry, metadata):
    with pytest.raises(ValueError, match="metadata must be"):
        registry.register_model("tok", "1.0.0", metadata)
    with pytest.raises(ModelNotFound):  # nothing half-written
        registry.list_versions("tok")
