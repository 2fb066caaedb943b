"""The item catalogue: validated, deduplicated, quarantined like events."""

from __future__ import annotations

import json

import pyarrow.parquet as pq

from pipelines.ingest import reasons
from pipelines.ingest.items import ingest_items


def test_items_validated_and_deduplicated(corebrain_home):
    folder = corebrain_home.landing_items
    (folder / "a.jsonl").write_text("\n".join(json.dumps(r) for r in [
        {"item_id": "i1", "title": "Red poster", "category": "art", "tags": ["red", "big"]},
        {"item_id": "", "title": "no id"},
        {"item_id": "i2", "title": "Blue", "colour": "blue"},
    ]) + "\n")
    (folder / "b.csv").write_text("item_id,title,category,tags\ni1,Dup,art,\ni3,Green,art,green\n")
    report = ingest_items(corebrain_home)
    items = pq.read_table(corebrain_home.lake_items / "items.parquet").to_pylist()
    assert [(i["item_id"], i["tags"]) for i in items] == [("i1", "red,big"), ("i2", None), ("i3", "green")]
    quarantine = pq.read_table(corebrain_home.lake_quarantine / "items.parquet").to_pylist()
    assert [q["reason"] for q in quarantine] == [reasons.MISSING_ITEM_ID, reasons.DUPLICATE_ITEM_ID]
    assert report.rows_read == 5 == report.accepted + report.quarantined
    assert report.schema_drift == {"items/a.jsonl": ["colour"]}


def test_no_catalogue_removes_stale_outputs(corebrain_home):
    (corebrain_home.landing_items / "a.csv").write_text("item_id,title\ni1,x\n")
    ingest_items(corebrain_home)
    assert (corebrain_home.lake_items / "items.parquet").exists()
    (corebrain_home.landing_items / "a.csv").unlink()
    ingest_items(corebrain_home)
    assert not (corebrain_home.lake_items / "items.parquet").exists()
