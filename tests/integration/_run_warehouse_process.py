"""One run of the nightly job's warehouse assets in its own OS process, on ``DagsterInstance.get()``.

``python -m tests.integration._run_warehouse_process [--dated] FIRST [LAST]``: a single day, or a
range as one run (a backfill); ``--dated`` keeps only the daily-partitioned assets (``raw_events`` ->
``fct_events``). Prints ``RUN <run id> <SUCCESS|FAILURE>`` and exits 0 on success, 1 otherwise.
Used by the concurrency test to start two runs at once against one ``$DAGSTER_HOME``, as the daemon
and a CLI user would.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    dated_only = "--dated" in argv
    days = [a for a in argv if a != "--dated"]
    if len(days) not in (1, 2):
        print("usage: python -m tests.integration._run_warehouse_process [--dated] FIRST [LAST]",
              file=sys.stderr)
        return 2
    import dagster as dg

    from pipelines.definitions import defs  # prepares the environment from $COREBRAIN_HOME
    from tests.integration.helpers_runs import run_warehouse

    with dg.DagsterInstance.get() as instance:
        result = run_warehouse(defs, instance, first=days[0], last=days[1] if len(days) == 2 else None,
                               dated_only=dated_only)
        print(f"RUN {result.run_id} {'SUCCESS' if result.success else 'FAILURE'}", flush=True)
    return 0 if result.success else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
