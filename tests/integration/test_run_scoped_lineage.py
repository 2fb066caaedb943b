"""Each stage reads its OWN run's upstream materialisation, not the latest one (real Dagster instance).

Two runs materialise ``training_shards`` with different folders; each run's lookup must find its own,
a re-execution its parent's, and only a run without the step falls back to the latest (and says so).
The old ``core_model`` read "the latest materialisation" and fails the first assertion.
"""

from types import SimpleNamespace

import dagster as dg

from pipelines.gate.lineage import run_chain, upstream_of

KEY = dg.AssetKey("training_shards")


def _shards_run(instance, folder: str) -> str:
    @dg.asset(name="training_shards")
    def fake_shards():
        return dg.MaterializeResult(metadata={"shards_dir": dg.MetadataValue.path(folder), "manifest_sha256": folder})

    return dg.materialize([fake_shards], instance=instance).run_id


def _context(instance, run_id: str, keys: set):
    run = instance.get_run_by_id(run_id)
    job = SimpleNamespace(asset_layer=SimpleNamespace(executable_asset_keys=keys))
    return SimpleNamespace(instance=instance, run=run, job_def=job)


def test_each_run_finds_its_own_shards_a_reexecution_its_parents_and_only_a_standalone_step_the_latest():
    with dg.instance_for_test() as instance:
        first = _shards_run(instance, "/shards/first")
        second = _shards_run(instance, "/shards/second")   # now the latest materialisation

        mine = upstream_of(_context(instance, first, {KEY}), KEY)
        assert mine.metadata["shards_dir"] == "/shards/first" and mine.this_run and mine.run_id == first
        assert upstream_of(_context(instance, second, {KEY}), KEY).metadata["shards_dir"] == "/shards/second"

        child = instance.add_run(dg.DagsterRun(job_name="nightly", run_id="retry-of-first", parent_run_id=first,
                                               root_run_id=first, asset_selection=frozenset({KEY})))
        assert run_chain(instance, child) == ["retry-of-first", first]
        assert upstream_of(_context(instance, child.run_id, {KEY}), KEY).metadata["shards_dir"] == "/shards/first"

        standalone = instance.add_run(dg.DagsterRun(job_name="__ASSET_JOB", run_id="retrain-only",
                                                    asset_selection=frozenset({dg.AssetKey("core_model")})))
        found = upstream_of(_context(instance, standalone.run_id, set()), KEY)
        assert found.metadata["shards_dir"] == "/shards/second" and not found.this_run
        assert "latest materialisation" in found.source

        planned = instance.add_run(dg.DagsterRun(job_name="nightly", run_id="planned-but-missing",
                                                 asset_selection=frozenset({KEY, dg.AssetKey("core_model")})))
        assert upstream_of(_context(instance, planned.run_id, {KEY}), KEY) is None  # never another run's
