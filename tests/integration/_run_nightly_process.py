"""One full run of the ``nightly`` job (ingest -> dbt -> shards -> retrain -> gate) in its own OS process.

``python -m tests.integration._run_nightly_process FIRST [LAST] [EPOCHS] [RULES_OVERRIDE]``: a single day,
or a range as one run; RULES_OVERRIDE is YAML for the gate's ``rules_override`` (for tests whose
subject is not the gate). Prints ``RUN <run id> <SUCCESS|FAILURE>``; exits 0 either way once the run has ended (a
rejection by the gate fails the run on purpose), 2 on bad arguments.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    if len(argv) not in (1, 2, 3, 4):
        print("usage: python -m tests.integration._run_nightly_process FIRST [LAST] [EPOCHS] [RULES_OVERRIDE]",
              file=sys.stderr)
        return 2
    import dagster as dg

    from pipelines.definitions import defs
    from tests.integration.helpers_runs import range_tags

    first, last = argv[0], argv[1] if len(argv) > 1 else argv[0]
    epochs = int(argv[2]) if len(argv) > 2 else 2
    ops: dict = {"core_model": {"config": {"epochs": epochs}}}
    if len(argv) > 3:
        ops["core_model_passes_gate"] = {"config": {"rules_override": argv[3]}}
    kwargs: dict = {"partition_key": first} if first == last else {"tags": range_tags(first, last)}
    with dg.DagsterInstance.get() as instance:
        result = defs.resolve_job_def("nightly").execute_in_process(
            instance=instance, raise_on_error=False,
            run_config={"ops": ops}, **kwargs)
        print(f"RUN {result.run_id} {'SUCCESS' if result.success else 'FAILURE'}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
