"""Erasure removes exactly the erased users' rows, in every landing format (issue 13, item 1).

Adversarial ids: ``42`` (also in every timestamp, in prices, item ids and event ids of other users),
``alice`` (a word in other users' searches), ``a.b+c*`` (regex metacharacters), a unicode id, and
``u1`` (a prefix of ``u10`` and ``u1x``). Each sits in JSON Lines, a one-line JSON array, a pretty
JSON array, a CSV with multi-line quoted fields, and Parquet with string and integer ids; broken lines
of erased and other users sit beside them. An independent count (stdlib and DuckDB readers, not the
erasure code) shows every other user keeps every row, in landing, lake, quarantine and after
re-ingesting; every file still parses in its format.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.ingest.contract import IngestSettings
from pipelines.ingest.day import ingest_landing_day
from pipelines.ingest.erasure import erase_from_files, erase_from_warehouse
from tests.ingest.helpers import DAY, day_folder, event, write_jsonl, write_parquet

ERASED = ["42", "alice", "a.b+c*", "ünï-çødé", "u1"]
TS = "2026-01-10T12:42:00Z"   # minute 42 in every row


def _ev(eid: str, user, **extra) -> dict:
    base = event(eid, TS, user, "view", "i42" if eid.endswith("x") else "42", price=42.0)
    base.update(extra)
    return base


def _search(eid: str, user, query: str) -> dict:
    return event(eid, TS, user, "search", None, query=query, price=None)


def _build_landing(paths) -> dict[str, int]:
    """Landing files of every format; returns the expected unparsed removals per file."""
    write_jsonl(paths, "a.jsonl", [
        _ev("a1", " alice "), _ev("a2", 42), _search("a3", "bob", "alice in wonderland poster"),
        _ev("a4", "u10"), _ev("a5", "4200"), _ev("a6", "a.b+c"), _ev("a7", "aXb+cc"),
        _ev("ev:42", "bob"), _search("a8", "carol", "42 posters a.b+c* u1 ünï-çødé"),
        '{"event_id": "a9", "user_id": "alice", "ts": broken',                  # erased, unparsed
        '{"event_id": "a10", "user_id": "bob", "query": "alice 42", broken',    # bob's: stays
        "garbage 42 here",                                                     # contains 42: goes
        "garbage 4200 and alice2",                                             # stays
        '"just a string"',                                                     # stays
    ])
    folder = day_folder(paths)
    one_line = [_ev("b1", "u1"), _ev("b2", "ünï-çødé"), _ev("b3", "u10"), _ev("b4", "u1x"),
                _ev("b5", "ünï-çødé-2"), _ev("b6", "a.b+c*"), _search("b7", "dave", "u1 ünï-çødé")]
    (folder / "b.json").write_text(json.dumps(one_line, ensure_ascii=False))
    pretty = [_ev("c1", 42), _ev("c2", "142"), _ev("c3", "a.b+c"), _ev("c4", "alice"),
              _search("c5", "erin", "a.b+c* alice")]
    (folder / "c.json").write_text(json.dumps(pretty, indent=4, ensure_ascii=False) + "\n")
    columns = ["event_id", "ts", "user_id", "event_type", "item_id", "query", "price"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([
        ["d1", TS, "alice", "search", "", "line one\nline two", ""],            # a record on 2 lines
        ["d2", TS, "bob", "search", "", "alice\nu1 42", ""],                   # bob's, on 2 lines
        ["d3", TS, "u1", "view", "42", "", "42"], ["d4", TS, " 42 ", "view", "i1", "", "1"],
        ["d5", TS, "u10", "view", "42", "", "42"], ["d6", TS, "4200", "view", "42", "", "42.42"],
        ["d7", TS, "u1", "view"],                                              # too few fields: goes
        ["d8", TS, "u10", "view"],                                             # too few fields: stays
    ])
    (folder / "d.csv").write_text(buffer.getvalue())
    write_parquet(paths, "e.parquet", [_ev("e1", "ünï-çødé"), _ev("e2", "alice"), _ev("e3", "alice in"),
                                       _ev("e4", "a.b+c*"), _search("e5", "frank", "alice u1 42")])
    pq.write_table(pa.table({"event_id": ["f1", "f2", "f3"], "ts": [TS] * 3,
                             "user_id": pa.array([42, 4200, 142], pa.int64()), "event_type": ["view"] * 3,
                             "item_id": ["42", "42", "i42"]}), folder / "f.parquet")
    return {"landing/events/date=2026-01-10/a.jsonl": 2, "landing/events/date=2026-01-10/d.csv": 1}


def _norm(value) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _landing_rows_per_user(paths) -> Counter:
    """Independent of the erasure code: stdlib json / csv and pyarrow, parseable rows only."""
    counts: Counter = Counter()
    for path in sorted(paths.landing_events.rglob("*")):
        if not path.is_file():
            continue
        if path.suffix == ".parquet":
            rows = pq.read_table(path).to_pylist()
        elif path.suffix == ".csv":
            rows = [r for r in csv.DictReader(io.StringIO(path.read_text())) if None not in r.values()]
        elif path.suffix == ".json":
            rows = json.loads(path.read_text())
        else:
            rows = []
            for line in path.read_text().split("\n"):
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                if isinstance(obj, dict):
                    rows.append(obj)
        counts.update(_norm(r.get("user_id")) for r in rows if isinstance(r, dict))
    return counts


def _lake_rows_per_user(paths) -> tuple[Counter, Counter]:
    """(events, quarantine rows that have a user_id) per user, counted by DuckDB."""
    with duckdb.connect() as con:
        events = Counter(dict(con.sql(
            f"select user_id, count(*) from read_parquet('{paths.lake_events}/**/*.parquet') group by 1").fetchall()))
        quarantine = Counter(dict(con.sql(
            f"select user_id, count(*) from read_parquet('{paths.lake_quarantine}/*.parquet') "
            "where user_id is not null group by 1").fetchall()))
    return events, quarantine


def _others(counter: Counter) -> Counter:
    return Counter({k: v for k, v in counter.items() if k not in ERASED})


def test_erasure_removes_exactly_the_erased_users_in_every_format(corebrain_home):
    unparsed_expected = _build_landing(corebrain_home)
    ingest_landing_day(corebrain_home, DAY, IngestSettings())
    landing_before = _landing_rows_per_user(corebrain_home)
    events_before, quarantine_before = _lake_rows_per_user(corebrain_home)
    for user in ERASED:   # every adversarial id really has rows, in landing and in the lake
        assert landing_before[user] >= 2 and events_before[user] >= 2, (user, landing_before, events_before)
    folder = day_folder(corebrain_home)
    bob_query = next(r for r in json.loads(json.dumps(list(csv.DictReader(io.StringIO(
        (folder / "d.csv").read_text()))))) if r["event_id"] == "d2")["query"]

    result = erase_from_files(corebrain_home, ERASED)

    landing_after = _landing_rows_per_user(corebrain_home)
    events_after, quarantine_after = _lake_rows_per_user(corebrain_home)
    assert _others(landing_after) == _others(landing_before)
    assert _others(events_after) == _others(events_before)
    assert _others(quarantine_after) == _others(quarantine_before)
    for user in ERASED:
        assert landing_after[user] == events_after[user] == quarantine_after[user] == 0, user
    assert sum(result["landing"].values()) == (sum(landing_before[u] for u in ERASED)
                                               + sum(unparsed_expected.values()))
    # the same three broken lines are judged by their text in the quarantine too
    assert result["unparsed"] == {**unparsed_expected, "lake/quarantine/landed=2026-01-10.parquet": 3}
    raws = [r["raw"] for r in pq.read_table(corebrain_home.lake_quarantine / "landed=2026-01-10.parquet")
            .to_pylist()]
    assert any("a10" in r for r in raws) and "garbage 4200 and alice2" in raws and "x" not in raws
    assert not any("a9" in r or r == "garbage 42 here" or r.startswith("d7,") for r in raws)

    # every file still parses in its own format, and looks as it did
    b_text, c_text = (folder / "b.json").read_text(), (folder / "c.json").read_text()
    assert "\n" not in b_text and [r["event_id"] for r in json.loads(b_text)] == ["b3", "b4", "b5", "b7"]
    assert c_text.startswith("[\n    {") and [r["event_id"] for r in json.loads(c_text)] == ["c2", "c3", "c5"]
    rows = list(csv.DictReader(io.StringIO((folder / "d.csv").read_text())))
    assert [r["event_id"] for r in rows if r["event_id"]] == ["d2", "d5", "d6", "d8"]
    assert next(r for r in rows if r["event_id"] == "d2")["query"] == bob_query == "alice\nu1 42"
    a_lines = (folder / "a.jsonl").read_text().split("\n")
    assert a_lines[0] == "" and a_lines[1] == "" and "a10" in a_lines[10] and a_lines[11] == ""
    assert "garbage 4200 and alice2" in a_lines and '"just a string"' in a_lines

    # re-ingesting the erased landing gives the same lake: no file turned corrupt, no row came back
    lake_erased = _lake_rows_per_user(corebrain_home)
    reasons_before = Counter(r["reason"] for r in pq.read_table(
        corebrain_home.lake_quarantine / "landed=2026-01-10.parquet").to_pylist())
    ingest_landing_day(corebrain_home, DAY, IngestSettings())
    assert _lake_rows_per_user(corebrain_home) == lake_erased
    reasons_after = Counter(r["reason"] for r in pq.read_table(
        corebrain_home.lake_quarantine / "landed=2026-01-10.parquet").to_pylist())
    assert reasons_after == reasons_before
    assert "CORRUPT_FILE" not in reasons_after and "EMPTY_FILE" not in reasons_after


def test_warehouse_erasure_is_exact_and_judges_quarantine_raw_rows(corebrain_home):
    with duckdb.connect(str(corebrain_home.warehouse)) as con:
        con.execute("create table fct_events as select * from (values ('42', '2026-01-10 12:42:00', 42.0), "
                    "('4200', '2026-01-10 12:42:00', 42.0), ('alice', 'x', 1.0), ('a.b+c', 'y', 2.0), "
                    "(' u1 ', 'z', 3.0), ('u10', 'u1', 4.0)) t(user_id, ts, price)")
        con.execute("create table quarantine as select * from (values "
                    "(null, '{\"user_id\": \"bob\", \"query\": \"alice\"}', 'BAD_TS', 'a.jsonl'), "
                    "(null, '{\"user_id\": \"alice\", broken', 'BROKEN_JSON_LINE', 'a.jsonl'), "
                    "(null, 'x,u1,view', 'BROKEN_CSV_ROW', 'd.csv'), "
                    "(null, 'x,u10,view', 'BROKEN_CSV_ROW', 'd.csv'), "
                    "('42', 'whatever', 'BAD_TS', 'a.jsonl')) t(user_id, raw, reason, source_file)")
    counts = erase_from_warehouse(corebrain_home.warehouse, ERASED)
    assert counts == {"main.fct_events": 3, "main.quarantine": 3}
    with duckdb.connect(str(corebrain_home.warehouse), read_only=True) as con:
        assert sorted(r[0] for r in con.sql("select user_id from fct_events").fetchall()) == ["4200", "a.b+c", "u10"]
        assert sorted(r[0] for r in con.sql("select raw from quarantine").fetchall()) == [
            "x,u10,view", '{"user_id": "bob", "query": "alice"}']


def test_temp_files_left_by_killed_writers_are_swept(corebrain_home):
    """A killed ingest leaves ``.<file>.tmp-<pid>`` in the lake, a killed shards writer a staging
    folder: both may hold erased users' rows, so erasure deletes them (and reports them)."""
    lake_day = corebrain_home.lake_events / "date=2026-01-10"
    lake_day.mkdir(parents=True)
    leftover = lake_day / ".landed=2026-01-10.parquet.tmp-12345"
    pq.write_table(pa.table({"user_id": ["alice", "bob"]}), leftover)
    staging = corebrain_home.shards / ".tmp-2026-01-10-abcd1234"
    staging.mkdir(parents=True)
    pq.write_table(pa.table({"user_id": ["alice"]}), staging / "train-00000.parquet")
    collector_file = day_folder(corebrain_home) / ".upload-in-progress.jsonl.part"
    collector_file.write_text('{"user_id": "bob"}\n')

    spill = corebrain_home.home / "tmp" / "ingest-12345"          # a killed ingest's DuckDB spill folder
    spill.mkdir(parents=True)
    (spill / "duckdb_temp_storage-0.tmp").write_bytes(b"alice's staged rows")

    first = erase_from_files(corebrain_home, ["alice"], places=("landing", "lake", "quarantine", "other"))
    assert not leftover.exists() and not spill.exists() and staging.exists()   # shards: the shards step
    assert first["temp_files"] == {"lake/events/date=2026-01-10/.landed=2026-01-10.parquet.tmp-12345": 1,
                                   "tmp/ingest-12345": 1}
    second = erase_from_files(corebrain_home, ["alice"], places=("shards",))
    assert not staging.exists() and second["temp_files"] == {"shards/.tmp-2026-01-10-abcd1234": 1}
    assert collector_file.exists()   # not ours: a collector's upload is left alone


def test_mlflow_logged_input_examples_are_swept(corebrain_home):
    artifacts = corebrain_home.mlflow_artifacts / "1" / "models" / "m-1" / "artifacts"
    artifacts.mkdir(parents=True)
    split = {"columns": ["user_id", "history"], "data": [["alice", ["i1"]], ["alice2", ["i42"]]]}
    (artifacts / "input_example.json").write_text(json.dumps(split))
    (artifacts / "serving_input_example.json").write_text(json.dumps({"dataframe_split": split}))
    (artifacts / "scores.jsonl").write_text('{"user_id": "alice", "s": 1}\n{"user_id": "bob", "s": 2}\n')
    result = erase_from_files(corebrain_home, ["alice"])
    assert json.loads((artifacts / "input_example.json").read_text())["data"] == [["alice2", ["i42"]]]
    assert json.loads((artifacts / "serving_input_example.json").read_text())["dataframe_split"]["data"] == [
        ["alice2", ["i42"]]]
    assert (artifacts / "scores.jsonl").read_text() == '\n{"user_id": "bob", "s": 2}\n'
    assert sum(result["other"].values()) == 3
