"""Training shards: the contract between the warehouse and ``models/`` (contracts.md section 3)."""

from pipelines.shards.manifest import (
    MANIFEST_NAME,
    ShardsManifestError,
    latest_shards_dir,
    read_manifest,
    verify_shards,
)
from pipelines.shards.writer import NoTrainingData, ShardsResult, write_shards

__all__ = ["MANIFEST_NAME", "NoTrainingData", "ShardsManifestError", "ShardsResult", "latest_shards_dir",
           "read_manifest", "verify_shards", "write_shards"]
