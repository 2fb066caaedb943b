"""Run-scoped lineage: each stage reads what ITS run (or the run it re-executes) produced upstream.

``core_model`` takes the shards folder from this run's ``training_shards`` materialisation, and the
gate takes the model version from this run's ``core_model`` materialisation, never an alias or "the
latest" folder, so two runs in flight at once cannot gate each other's model on each other's holdout.
A re-execution (from failure) searches its parent runs too. Only a run that does not contain the
upstream step at all falls back to the latest materialisation, and says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg


@dataclass(frozen=True)
class Upstream:
    run_id: str           # the run whose step materialised it
    metadata: dict        # plain values
    this_run: bool        # False: the latest materialisation of another run (standalone step)

    @property
    def source(self) -> str:
        return f"run {self.run_id}" + ("" if self.this_run else " (latest materialisation: this run has no such step)")


def plain(metadata) -> dict:
    """Dagster MetadataValue -> plain python values."""
    return {key: getattr(value, "value", value) for key, value in (metadata or {}).items()}


def run_chain(instance: dg.DagsterInstance, run: dg.DagsterRun) -> list[str]:
    """This run, then the runs it re-executes (parent, grandparent, ...)."""
    chain, current = [run.run_id], run
    while current is not None and current.parent_run_id and current.parent_run_id not in chain:
        chain.append(current.parent_run_id)
        current = instance.get_run_by_id(current.parent_run_id)
    return chain


def materialization_in_runs(instance: dg.DagsterInstance, run_ids: list[str], key: dg.AssetKey) -> Upstream | None:
    """The newest materialisation of ``key`` by the first of ``run_ids`` that has one."""
    for run_id in run_ids:
        records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION,
                                               ascending=False).records
        for record in records:
            mat = record.event_log_entry.asset_materialization
            if mat is not None and mat.asset_key == key:
                return Upstream(run_id, plain(mat.metadata), True)
    return None


def upstream_of(context, key: dg.AssetKey, *, allow_latest: bool = True) -> Upstream | None:
    """``key``'s materialisation from this run's chain; else (when allowed and this run's plan
    has no step for it) the latest one anywhere."""
    found = materialization_in_runs(context.instance, run_chain(context.instance, context.run), key)
    if found is not None or not allowed_fallback(context, key, allow_latest):
        return found
    event = context.instance.get_latest_materialization_event(key)
    if event is None or event.asset_materialization is None:
        return None
    return Upstream(event.run_id, plain(event.asset_materialization.metadata), False)


def allowed_fallback(context, key: dg.AssetKey, allow_latest: bool) -> bool:
    """The fallback is only for runs that never had ``key`` in their plan (a standalone retrain or
    gate); a run that did plan it and has no materialisation must not borrow another run's."""
    if not allow_latest:
        return False
    selection = context.run.asset_selection
    if selection is not None:
        return key not in selection
    return key not in context.job_def.asset_layer.executable_asset_keys


def lineage_problems(version_tags: dict, expected: dict) -> list[str]:
    """What differs between a model version's lineage tags and what this run says it trained
    (pure). ``expected``: tag -> value; a missing tag is a problem too."""
    problems = []
    for tag, want in expected.items():
        got = version_tags.get(tag)
        if got is None:
            problems.append(f"the model version has no `{tag}` tag (expected {want}): not trained by this pipeline?")
        elif str(got) != str(want):
            problems.append(f"`{tag}` of the model version is {got}, this run's is {want}: refusing to gate "
                            "a model on another run's data; rerun the nightly job")
    return problems
