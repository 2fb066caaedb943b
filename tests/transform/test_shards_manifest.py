"""The shards manifest: contract shape, verification against files, finding the latest folder."""

from datetime import date, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.settings import CorebrainPaths
from pipelines.shards.manifest import (
    FORMAT,
    ShardsManifestError,
    build_manifest,
    describe_file,
    latest_shards_dir,
    manifest_text,
    verify_shards,
    window_days,
)


def _folder(tmp_path, name="2026-01-30"):
    folder = tmp_path / name
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"user_id": ["a", "b"]}), folder / "train-00000.parquet")
    pq.write_table(pa.table({"user_id": ["a"]}), folder / "holdout.parquet")
    pq.write_table(pa.table({"item_idx": pa.array([1, 2, 3], pa.int32()), "item_id": ["x", "y", "z"]}),
                   folder / "items.parquet")
    files = [describe_file(folder, "train-00000.parquet", "train"),
             describe_file(folder, "holdout.parquet", "holdout"),
             describe_file(folder, "items.parquet", "items")]
    manifest = build_manifest(files, window_start=date(2026, 1, 1), window_end=date(2026, 1, 30),
                              holdout_cutoff=datetime(2026, 1, 30), dbt_manifest_sha256="abc")
    (folder / "manifest.json").write_text(manifest_text(manifest))
    return folder, manifest


def test_manifest_has_the_contract_shape(tmp_path):
    _, manifest = _folder(tmp_path)
    assert manifest["format"] == FORMAT
    assert manifest["window"] == {"start": "2026-01-01", "end": "2026-01-30",
                                  "holdout_cutoff": "2026-01-30T00:00:00"}
    assert manifest["vocab"]["n_items"] == 3
    assert manifest["vocab"]["version"] == manifest["files"][2]["sha256"]
    assert manifest["event_types"] == {"view": 1, "search": 2, "add_to_cart": 3, "purchase": 4}
    assert [(f["path"], f["role"], f["rows"]) for f in manifest["files"]] == [
        ("train-00000.parquet", "train", 2), ("holdout.parquet", "holdout", 1), ("items.parquet", "items", 3)]
    assert manifest["lineage"]["dbt_manifest_sha256"] == "abc"
    assert manifest["lineage"]["partitions"][0] == "2026-01-01"
    assert len(manifest["lineage"]["partitions"]) == 30


def test_verify_detects_changed_and_missing_files(tmp_path):
    folder, manifest = _folder(tmp_path)
    assert verify_shards(folder) == manifest
    pq.write_table(pa.table({"user_id": ["a", "b", "c"]}), folder / "train-00000.parquet")
    with pytest.raises(ShardsManifestError, match="3 rows, manifest says 2"):
        verify_shards(folder)
    (folder / "holdout.parquet").unlink()
    with pytest.raises(ShardsManifestError, match="holdout.parquet: missing"):
        verify_shards(folder)


def test_window_days_and_bad_inputs(tmp_path):
    assert window_days(date(2026, 1, 30), date(2026, 2, 1)) == ["2026-01-30", "2026-01-31", "2026-02-01"]
    with pytest.raises(ValueError):
        window_days(date(2026, 2, 1), date(2026, 1, 1))
    with pytest.raises(ValueError, match="exactly one items"):
        build_manifest([], window_start=date(2026, 1, 1), window_end=date(2026, 1, 2),
                       holdout_cutoff=datetime(2026, 1, 2), dbt_manifest_sha256=None)


def test_latest_shards_dir_skips_incomplete_and_foreign_folders(tmp_path):
    root = tmp_path / "shards"
    paths = CorebrainPaths(tmp_path)
    assert latest_shards_dir(paths) is None
    _folder(root, "2026-01-30")
    _folder(root, "2026-01-29")
    (root / "2026-02-01").mkdir()              # incomplete: no manifest
    (root / ".tmp-2026-03-01-abc").mkdir()     # a write in progress
    assert latest_shards_dir(paths) == root / "2026-01-30"
    assert latest_shards_dir(root) == root / "2026-01-30"
