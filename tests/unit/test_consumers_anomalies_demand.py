"""Pure pieces of catalogue_anomalies and demand_outlook: label parsing, label statistics, the flag rule,
the suggestion, purchase rates and the moving average."""

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.consumers import anomalies, demand, store
from pipelines.consumers.anomalies import (
    KIND_CATEGORY,
    KIND_TAG,
    find_anomalies,
    labels_of,
    log_likelihood_ratio,
)

DAY = 86_400


def test_labels_are_normalised_tags_plus_the_category():
    assert labels_of(" Nature,  Black and White ,, BLUE", "Poster") == {
        (KIND_TAG, "nature"), (KIND_TAG, "black and white"), (KIND_TAG, "blue"), (KIND_CATEGORY, "poster")}
    assert labels_of(None) == set() and labels_of("", " ") == set()


def test_the_likelihood_ratio_says_which_share_the_neighbours_look_like():
    # 0 of 20 neighbours carry it: likelier at the catalogue's 5% than at carriers' typical 30%
    assert log_likelihood_ratio(0, 20, 0.30, 0.05) < 0
    assert log_likelihood_ratio(6, 20, 0.30, 0.05) > 0
    assert abs(log_likelihood_ratio(3, 20, 0.1, 0.1)) < 1e-12


def _world():
    """Four behaviour clusters of 20 items, a colour tag on every third item of each (`blue` in
    cluster a, `green` in b, ...); `art` is on every other item regardless of behaviour; item a0
    (cluster a) is wrongly tagged `green`."""
    labels, neighbours = {}, {}
    for name, colour in (("a", "blue"), ("b", "green"), ("c", "red"), ("d", "gold")):
        cluster = [f"{name}{i}" for i in range(20)]
        for i, item in enumerate(cluster):
            ls = {(KIND_TAG, "art")} if i % 2 else set()
            if i % 3 == 0:
                ls.add((KIND_TAG, colour))
            ls.add((KIND_CATEGORY, "poster" if i % 2 else "canvas"))
            labels[item] = ls
            neighbours[item] = [x for x in cluster if x != item][:10]
    labels["a0"] = (labels["a0"] - {(KIND_TAG, "blue")}) | {(KIND_TAG, "green")}
    return labels, neighbours


def test_only_the_planted_wrong_tag_is_flagged_with_its_evidence():
    labels, neighbours = _world()
    stats = anomalies.label_stats(labels, neighbours)
    assert stats[(KIND_TAG, "green")].lift > 2 and stats[(KIND_TAG, "art")].lift < 2   # art: behaviour ignores it
    rows = find_anomalies(labels, neighbours)
    assert [(r["item_id"], r["disagreeing_label"]) for r in rows] == [("a0", "green")]
    row = rows[0]
    assert row["neighbour_share"] == 0.0 and row["neighbour_ids"] == neighbours["a0"]
    assert row["suggested_label"] == "blue" and row["suggested_share"] > row["catalogue_share"]
    assert row["log_likelihood_ratio"] < 0 and row["label_kind"] == KIND_TAG
    assert row["typical_share"] > row["catalogue_share"]      # the other carriers' share, without a0
    table = anomalies.anomalies_table(rows)
    assert table.schema == anomalies.SCHEMA and table.num_rows == 1


def test_a_label_behaviour_ignores_is_never_judged_and_no_catalogue_gives_no_rows():
    labels, neighbours = _world()
    assert not find_anomalies(labels, neighbours, min_lift=1e9)
    assert not find_anomalies({}, {})
    assert anomalies.anomalies_table([]).num_rows == 0


def test_purchase_rate_counts_purchases_per_active_period():
    at = 100 * DAY
    h = {"items": ["i1", "i2", "i1", None], "event_types": ["purchase", "view", 4, "search"],
         "ts": [at - DAY, at - 2 * DAY, at - 9 * DAY, at - 20 * DAY]}
    # active in three 7-day periods back from `at` (0, 1, 2); 2 purchases (a name and a code)
    assert demand.purchase_rate(h, at, 7) == 2 / 3
    assert demand.purchase_rate({"items": [], "event_types": [], "ts": []}, at) == 0.0
    assert demand.purchase_rate({"items": ["i1"], "event_types": ["purchase"], "ts": [None]}, at) == 0.0


def test_recent_purchases_is_the_last_periods_count_per_item():
    at = 100 * DAY
    hs = [{"items": ["i1", "i1", "i2"], "event_types": ["purchase", "purchase", "view"],
           "ts": [at - DAY, at - 8 * DAY, at - DAY]},
          {"items": ["i1", "i3"], "event_types": [4, "purchase"], "ts": [at - 6 * DAY, at]}]
    assert demand.recent_purchases(hs, at, 7) == {"i1": 2}


def test_an_empty_table_carries_its_version_so_it_is_not_rebuilt(tmp_path):
    path = tmp_path / "t" / "t.parquet"
    store.write_swap(store.stamp(pa.table({"x": pa.array([], pa.int64())}), "5", "run-a"), path)
    assert pq.read_table(path).num_rows == 0
    assert store.versions_in(path) == {"5"} and store.is_current(path, "5") and not store.is_current(path, "6")


def test_anomaly_quality_is_judged_against_flagging_at_random():
    from pipelines.quality import anomaly_quality, hypergeom_sf

    universe = {f"i{i}" for i in range(100)}
    q = anomaly_quality({"i1", "i2", "i3", "i4"}, {"i1", "i2", "i50", "i60", "x"}, universe)
    assert (q["hits"], q["errors"], q["flagged"]) == (2, 4, 4)            # "x" is outside the universe
    assert q["precision"] == 0.5 and q["recall"] == 0.5
    assert q["chance_precision"] == 0.04 and q["chance_recall"] == 0.04
    assert 0 < q["p_luck"] < 0.05
    assert hypergeom_sf(0, 100, 4, 4) == 1.0 and hypergeom_sf(5, 100, 4, 4) == 0.0
    assert anomaly_quality(set(), {"i1"}, universe)["precision"] == 0.0


def test_forecast_errors():
    from pipelines.quality import forecast_errors

    e = forecast_errors([1.0, 3.0, 0.0], [2.0, 2.0, 0.0])
    assert e == {"mae": 2 / 3, "wape": 0.5, "bias": 0.0}
