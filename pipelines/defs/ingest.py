"""The ingest stage in Dagster: ``raw_events`` (daily, one run per backfill range) and ``raw_items``.

The logic lives in ``pipelines.ingest`` (pure, tested on its own); this module only maps Dagster
partitions and config onto it and reports what happened as metadata and asset checks:

- ``raw_events`` partition D reads ``landing/events/date=D/`` and rewrites exactly D's lake files.
  A range (backfill) is ONE run (``BackfillPolicy.single_run``), days processed in order.
- Late events (ts day E < D) land under ``lake/events/date=E/``; for each such E the asset logs an
  extra ``AssetMaterialization`` of ``raw_events`` partition E, so that downstream partitions of E
  show as stale ("upstream data changed"); downstream assets with ``rebuild_on_upstream_change()``
  as automation condition are then rebuilt for E by the automation sensor.
- Out-of-order ingest: when day D is ingested after a later landing day L that holds a copy of
  an event D accepted first, ingest re-ingests L (so L's copy is ``DUPLICATE_EVENT_ID``) and logs a
  materialisation of partition L and of each event day that lost L's copy, so that they rebuild.
- Checks: ``quarantine_share`` (blocking) fails when a day's quarantined share exceeds the threshold,
  and for a day whose every file was rejected whole; ``counts_reconcile`` (blocking) fails if rows
  read != accepted + quarantined; ``landing_files_readable`` warns when whole files were rejected
  (corrupt, empty, unsafe), files were left for the next run (still being written) or a day
  delivered no files. With ``missing_day: fail`` a day without files fails the step (after its
  metadata is recorded), so nothing downstream runs.
- Never opens the DuckDB warehouse. Pool ``ingest`` (limit 1 by the instance default) keeps two runs
  from ingesting at once, because a day's dedupe reads the earlier days' lake files.
"""


from datetime import date

import dagster as dg

from pipelines.defs.partitions import daily_partitions
from pipelines.ingest.contract import IngestSettings
from pipelines.ingest.day import DayReport, ingest_landing_days
from pipelines.ingest.items import ingest_items
from pipelines.settings import current_paths

QUARANTINE_CHECK = "quarantine_share"
RECONCILE_CHECK = "counts_reconcile"
FILES_CHECK = "landing_files_readable"


class IngestConfig(dg.Config):
    """Unset fields fall back to COREBRAIN_INGEST_* environment variables, then the defaults."""

    future_skew_hours: float | None = None   # default 24
    ts_floor: str | None = None              # default 2000-01-01
    quarantine_threshold: float | None = None  # default 0.05
    min_file_age_s: float | None = None      # default 0: files modified more recently wait for the next run
    missing_day: str | None = None           # "warn" (default) or "fail": a day that delivered no files

    def settings(self) -> IngestSettings:
        return IngestSettings.from_env(self.future_skew_hours, self.ts_floor, self.quarantine_threshold,
                                       self.min_file_age_s, self.missing_day)


def rebuild_on_upstream_change() -> dg.AutomationCondition:
    """For daily assets downstream of ``raw_events`` (the dbt models): request partition E whenever an
    upstream partition E was re-materialised, including by a late-data event logged for E.

    ``AutomationCondition.eager()`` only looks at the latest day, so it would miss late data; this one
    looks at every partition. Needs the automation condition sensor (on by default in ``dagster dev``).
    """
    # ~newly_updated: a run that rebuilt both the upstream day and this day (the nightly job) asks nothing more
    return (dg.AutomationCondition.any_deps_updated()
            & ~dg.AutomationCondition.newly_updated()
            & ~dg.AutomationCondition.any_deps_missing()
            & ~dg.AutomationCondition.any_deps_in_progress()
            & ~dg.AutomationCondition.in_progress()).with_label("rebuild_on_upstream_change")


def _totals(reports: list[DayReport]) -> dict[str, int]:
    keys = ("files_read", "files_rejected", "rows_read", "accepted", "quarantined")
    return {k: sum(getattr(r, k) for r in reports) for k in keys}


def _reasons(reports: list[DayReport]) -> dict[str, int]:
    total: dict[str, int] = {}
    for report in reports:
        for reason, n in report.reasons.items():
            total[reason] = total.get(reason, 0) + n
    return dict(sorted(total.items()))


def other_event_days(reports: list[DayReport], run_days: set[str]) -> dict[str, dict[str, int]]:
    """{event day E: {landing day D: rows}} for accepted rows whose event day is another partition
    than their landing day and is not one of the run's own partitions: late rows (E < D) and
    early ones within the skew (E > D, only once E is a partition)."""
    touched: dict[str, dict[str, int]] = {}
    for report in reports:
        landed = report.landing_day.isoformat()
        for day, n in report.event_days.items():
            if day != landed and day not in run_days and daily_partitions.has_partition_key(day):
                touched.setdefault(day, {})[landed] = n
    return dict(sorted(touched.items()))


def dedupe_repairs(reports: list[DayReport], reingested: list[DayReport]) -> dict[str, dict[str, int]]:
    """{partition: {landing day L: rows}} to mark stale after out-of-order ingest re-ingested later
    landing days L: each event day that lost L's copy of an event, and L itself (its quarantine
    changed). Only days that are partitions."""
    redone = {r.landing_day.isoformat() for r in reingested}
    marked: dict[str, dict[str, int]] = {}
    for report in [*reports, *reingested]:
        for landed, event_days in report.later_duplicates.items():
            if landed not in redone:
                continue
            for day, n in {**event_days, landed: sum(event_days.values())}.items():
                if daily_partitions.has_partition_key(day):
                    marked.setdefault(day, {})[landed] = n
    return dict(sorted(marked.items()))


@dg.asset(
    key="raw_events",
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="ingest",
    pool="ingest",
    kinds={"parquet"},
    description="Landing files validated against event contract v1 -> lake/events (+ quarantine).",
    check_specs=[
        dg.AssetCheckSpec(QUARANTINE_CHECK, asset="raw_events", blocking=True,
                          description="Quarantined share of rows read is within the threshold (default 5 %)."),
        dg.AssetCheckSpec(RECONCILE_CHECK, asset="raw_events", blocking=True,
                          description="rows read = accepted + quarantined, for every landing day."),
        dg.AssetCheckSpec(FILES_CHECK, asset="raw_events", blocking=False,
                          description="No landing file was rejected whole (corrupt, empty, unsafe name) or "
                                      "left for the next run, and every landing day delivered files."),
    ],
)
def raw_events(context: dg.AssetExecutionContext, config: IngestConfig):
    settings = config.settings()
    paths = current_paths().ensure()
    days = [date.fromisoformat(key) for key in context.partition_keys]
    reingested: list[DayReport] = []
    reports = ingest_landing_days(paths, days, settings, reingested)

    for day, why in dedupe_repairs(reports, reingested).items():
        context.log_event(dg.AssetMaterialization(
            asset_key="raw_events", partition=day,
            description="a later landing day was re-ingested: an earlier landing day, ingested after it, "
                        "holds the first copy of some of its events; downstream partitions are stale",
            metadata={"duplicates_removed": dg.MetadataValue.json(why)},
        ))
    touched = other_event_days(reports, set(context.partition_keys))
    for day, landed in touched.items():
        context.log_event(dg.AssetMaterialization(
            asset_key="raw_events", partition=day,
            description="events of this day arrived in another landing day: downstream partitions are stale",
            metadata={"late_rows": sum(n for d, n in landed.items() if d > day),
                      "early_rows": sum(n for d, n in landed.items() if d < day),
                      "landed_on": dg.MetadataValue.json(landed)},
        ))

    totals = _totals(reports)
    over = {r.landing_day.isoformat(): round(r.quarantine_share, 4) for r in reports
            if r.quarantine_share > settings.quarantine_threshold}
    unreconciled = [r.landing_day.isoformat() for r in reports if not r.reconciles]
    rejected_files = {f: e for r in reports for f, e in r.file_errors.items()}
    files_left = {f: why for r in reports for f, why in r.files_left.items()}
    no_data = [r.landing_day.isoformat() for r in reports if r.no_data]
    all_rejected = [r.landing_day.isoformat() for r in reports if r.all_files_rejected]
    drift = {f: cols for r in reports for f, cols in r.schema_drift.items()}
    share = totals["quarantined"] / totals["rows_read"] if totals["rows_read"] else 0.0
    for report in reports:
        context.log.info(f"landing day {report.landing_day}: read {report.rows_read}, accepted "
                         f"{report.accepted}, quarantined {report.quarantined}, files rejected "
                         f"{report.files_rejected}, files left for the next run {len(report.files_left)}")
    if no_data:
        context.log.warning(f"landing days without any landing file: {no_data} (missing_day: "
                            f"{settings.missing_day})")
    metadata = {
        **totals,
        "reconcile": f"read {totals['rows_read']} = accepted {totals['accepted']} + quarantined "
                     f"{totals['quarantined']}: {'ok' if not unreconciled else 'MISMATCH'}",
        "quarantine_share": round(share, 6),
        "quarantined_by_reason": dg.MetadataValue.json(_reasons(reports)),
        "schema_drift": dg.MetadataValue.json(drift),
        "schema_drift_columns": ", ".join(sorted({c for cols in drift.values() for c in cols})) or "none",
        "late_rows": sum(sum(r.late_days.values()) for r in reports),
        "late_event_days": dg.MetadataValue.json(
            {r.landing_day.isoformat(): r.late_days for r in reports if r.late_days}),
        "other_partitions_marked": dg.MetadataValue.json(touched),
        "rejected_files": dg.MetadataValue.json(rejected_files),
        "files_left_for_next_run": dg.MetadataValue.json(files_left),
        "days_without_landing_files": dg.MetadataValue.json(no_data),
        "days_all_files_rejected": dg.MetadataValue.json(all_rejected),
        "per_landing_day": dg.MetadataValue.json([r.as_dict() for r in reports]),
        "later_days_reingested": dg.MetadataValue.json([r.as_dict() for r in reingested]),
        "later_duplicates_unresolved": dg.MetadataValue.json(
            {r.landing_day.isoformat(): r.later_duplicates_unresolved for r in reports
             if r.later_duplicates_unresolved}),
    }
    checks = [
        dg.AssetCheckResult(
            check_name=QUARANTINE_CHECK, passed=not over, severity=dg.AssetCheckSeverity.ERROR,
            metadata={"threshold": settings.quarantine_threshold, "quarantine_share": round(share, 6),
                      "days_over_threshold": dg.MetadataValue.json(over),
                      "days_all_files_rejected": dg.MetadataValue.json(all_rejected)}),
        dg.AssetCheckResult(
            check_name=RECONCILE_CHECK, passed=not unreconciled, severity=dg.AssetCheckSeverity.ERROR,
            metadata={"reconcile": metadata["reconcile"],
                      "days_not_reconciling": dg.MetadataValue.json(unreconciled)}),
        dg.AssetCheckResult(
            check_name=FILES_CHECK, passed=not (rejected_files or files_left or no_data),
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"rejected_files": dg.MetadataValue.json(rejected_files),
                      "files_left_for_next_run": dg.MetadataValue.json(files_left),
                      "days_without_landing_files": dg.MetadataValue.json(no_data)}),
    ]
    yield dg.MaterializeResult(metadata=metadata, check_results=checks)
    if no_data and settings.missing_day == "fail":
        raise dg.Failure(
            description=f"landing days {no_data} delivered no landing files (expected under "
                        f"landing/events/date=D/). Deliver them and rerun, or set missing_day: warn "
                        f"(COREBRAIN_INGEST_MISSING_DAY=warn) if such days are expected.",
            metadata={"days_without_landing_files": dg.MetadataValue.json(no_data)})


@dg.asset(
    key="raw_items",
    group_name="ingest",
    kinds={"parquet"},
    description="The optional item catalogue: landing/items/* -> lake/items/items.parquet (+ quarantine).",
)
def raw_items(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    report = ingest_items(current_paths().ensure())
    summary = report.as_dict()
    return dg.MaterializeResult(metadata={
        **{k: summary[k] for k in ("files_read", "files_rejected", "rows_read", "accepted", "quarantined")},
        "reconcile": f"read {report.rows_read} = accepted {report.accepted} + quarantined {report.quarantined}",
        "quarantined_by_reason": dg.MetadataValue.json(summary["quarantined_by_reason"]),
        "rejected_files": dg.MetadataValue.json(summary["file_errors"]),
        "schema_drift": dg.MetadataValue.json(summary["schema_drift"]),
    })


ingest_job = dg.define_asset_job(
    "ingest_job", selection=dg.AssetSelection.assets("raw_events"),
    description="Ingest landing days (the landing sensor requests one run per touched day).")
ingest_items_job = dg.define_asset_job(
    "ingest_items_job", selection=dg.AssetSelection.assets("raw_items"),
    description="Ingest the item catalogue.")

defs = dg.Definitions(assets=[raw_events, raw_items], jobs=[ingest_job, ingest_items_job])
