import datetime as dt
import json

from pipelines.training.warm_start import erasures_after, may_warm_start

T0 = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)


def _log(path, *times):
    path.write_text("".join(json.dumps({"erased_at": t.isoformat(timespec="seconds"), "n_users": 1}) + "\n"
                            for t in times))


def test_no_log_means_no_erasure(tmp_path):
    assert erasures_after(tmp_path / "erasure_log.jsonl", T0) == 0
    assert may_warm_start(tmp_path / "erasure_log.jsonl", int(T0.timestamp() * 1000))[0]


def test_an_erasure_after_the_champion_forces_a_cold_start(tmp_path):
    log = tmp_path / "erasure_log.jsonl"
    _log(log, T0 - dt.timedelta(days=3), T0 + dt.timedelta(hours=1))
    allowed, why = may_warm_start(log, int(T0.timestamp() * 1000))
    assert not allowed and "1 erasure(s)" in why


def test_erasures_before_the_champion_do_not_matter(tmp_path):
    log = tmp_path / "erasure_log.jsonl"
    _log(log, T0 - dt.timedelta(days=3))
    assert may_warm_start(log, int(T0.timestamp() * 1000))[0]
