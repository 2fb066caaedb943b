"""dbt's parse state is kept per installation (pipelines/defs/transform.py, partial_parse_cache): a
dbt step after the first re-parses only what changed, and a broken saved state only costs a full
parse. The dbt step's messages go to stdout (dagster-dbt re-emits them), where the test reads them."""

import importlib.metadata

import dagster as dg
import pytest

from pipelines.dbt_project import dbt_executable
from pipelines.defs.transform import CorebrainDbtCliResource, dbt_resource, partial_parse_cache
from tests.transform.lake_fixtures import shop_events, write_events
from tests.transform.runs import run_partitions

FULL_PARSE = "Unable to do partial parsing"


@pytest.mark.slow
def test_second_dbt_step_reuses_the_installations_parse_state(corebrain_home, capfd):
    write_events(corebrain_home.lake, "2026-01-01", shop_events("2026-01-01"))
    write_events(corebrain_home.lake, "2026-01-02", shop_events("2026-01-02"))
    cache = partial_parse_cache(corebrain_home)
    assert not cache.exists()
    with dg.DagsterInstance.ephemeral() as instance:
        assert run_partitions(instance, "2026-01-01").success
        first = capfd.readouterr().out
        # the shipped state was parsed for another warehouse path: dbt counts a changed profile
        assert f"{FULL_PARSE} because profile has changed" in first
        assert cache.is_file()

        # another day (other window env vars): partial parsing, from this installation's state
        assert run_partitions(instance, "2026-01-02").success
        second = capfd.readouterr().out
        assert "Running with dbt=" in second and FULL_PARSE not in second

        # a broken saved state: dbt parses afresh, the step still succeeds, the state is repaired
        cache.write_bytes(b"not msgpack")
        assert run_partitions(instance, "2026-01-01").success
        assert cache.stat().st_size > 1000

        # a state that cannot be saved (here: a folder in the way) never fails the step
        cache.unlink()
        cache.mkdir()
        assert run_partitions(instance, "2026-01-02").success
        assert not [p for p in cache.parent.iterdir() if p.name.startswith(".")]  # no partial copy left


def test_resource_skips_dbt_version_subprocess_only_for_its_own_dbt(tmp_path):
    resource = dbt_resource()
    assert isinstance(resource, CorebrainDbtCliResource)
    assert resource.dbt_executable == dbt_executable()
    assert "--no-write-json" in resource.global_config_flags
    assert str(resource._cli_version) == importlib.metadata.version("dbt-core")
    # another dbt executable is asked for its version (dagster-dbt's `dbt --version`)
    fake = tmp_path / "dbt"
    fake.write_text("#!/bin/sh\necho 'Core:'\necho '  - installed: 9.8.7'\n")
    fake.chmod(0o755)
    other = CorebrainDbtCliResource(project_dir=resource.project_dir, dbt_executable=str(fake))
    assert str(other._cli_version) == "9.8.7"
