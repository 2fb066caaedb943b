"""The ``corebrain`` command: one entry point for the things a data engineer runs by hand.

Each sub-command imports its heavy dependencies lazily so that ``corebrain --help`` is instant.
"""

from __future__ import annotations

import argparse
import sys


def _simulate(args: argparse.Namespace) -> int:
    from pipelines.settings import prepare_environment
    from pipelines.simulate.cli import run_simulate

    paths = prepare_environment()
    return run_simulate(args, paths)


def _import_movielens(args: argparse.Namespace) -> int:
    from pipelines.movielens import import_movielens
    from pipelines.settings import prepare_environment

    paths = prepare_environment()
    try:
        summary = import_movielens(args.source, paths.landing, max_days=args.max_days)
    except FileNotFoundError as exc:
        print(f"corebrain import-movielens: {exc}", file=sys.stderr)
        return 2
    print(summary)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from pipelines.demo import run_demo

    return run_demo(days=args.days, users=args.users, items=args.items, seed=args.seed,
                    extra_cycles=args.extra_cycles)


def _ui(args: argparse.Namespace) -> int:
    from pipelines.ui import run_ui

    return run_ui(dagster_port=args.dagster_port, mlflow_port=args.mlflow_port)


def _mlflow_server(args: argparse.Namespace) -> int:
    from pipelines.mlflow_server import run_mlflow_server

    return run_mlflow_server(port=args.port)


def _serve(args: argparse.Namespace) -> int:
    from pipelines.serve import run_serve

    return run_serve(model_uri=args.model_uri, host=args.host, port=args.port)


def _nightly(args: argparse.Namespace) -> int:
    import datetime as dt

    from pipelines.run_commands import nightly_args, run_prepared, yesterday_utc

    day = dt.date.fromisoformat(args.date) if args.date else yesterday_utc()
    return run_prepared(nightly_args(day, _config(args)))


def _backfill(args: argparse.Namespace) -> int:
    import datetime as dt

    from pipelines.run_commands import backfill_args, run_prepared

    try:
        command = backfill_args(dt.date.fromisoformat(args.start), dt.date.fromisoformat(args.end),
                                warehouse_only=args.warehouse_only, extra=_config(args))
    except ValueError as exc:
        print(f"corebrain backfill: {exc}", file=sys.stderr)
        return 2
    return run_prepared(command)


def _config(args: argparse.Namespace) -> list[str]:
    return [item for path in (args.config or []) for item in ("-c", path)]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="corebrain", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    sim = sub.add_parser("simulate", help="write landing files of the sample poster shop")
    from_simulator = _simulator_arguments()
    if from_simulator is not None:
        from_simulator(sim)
    sim.set_defaults(func=_simulate)

    ml = sub.add_parser("import-movielens", help="write a MovieLens folder (ml-100k) as landing files")
    ml.add_argument("source", help="folder holding ml-100k.inter (and optionally ml-100k.item)")
    ml.add_argument("--max-days", type=int, default=None, help="only the first N days of the log")
    ml.set_defaults(func=_import_movielens)

    demo = sub.add_parser("demo", help="simulate a shop and run the nightly pipeline over it")
    demo.add_argument("--days", type=int, default=30)
    demo.add_argument("--users", type=int, default=600)
    demo.add_argument("--items", type=int, default=300)
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--extra-cycles", type=int, default=2)
    demo.set_defaults(func=_demo)

    nightly = sub.add_parser("nightly", help="prepare $COREBRAIN_HOME, then run the nightly job for one day")
    nightly.add_argument("--date", help="the partition (YYYY-MM-DD); default: yesterday (UTC)")
    nightly.add_argument("-c", "--config", action="append", help="a Dagster run config YAML (repeatable)")
    nightly.set_defaults(func=_nightly)

    backfill = sub.add_parser("backfill", help="prepare $COREBRAIN_HOME, then run START..END as ONE run")
    backfill.add_argument("start", help="first day, YYYY-MM-DD")
    backfill.add_argument("end", help="last day, YYYY-MM-DD (inclusive)")
    backfill.add_argument("--warehouse-only", action="store_true",
                          help="only raw_events, stg_events, fct_events (no shards, retrain or gate)")
    backfill.add_argument("-c", "--config", action="append", help="a Dagster run config YAML (repeatable)")
    backfill.set_defaults(func=_backfill)

    ui = sub.add_parser("ui", help="Dagster UI and MLflow UI on 127.0.0.1")
    ui.add_argument("--dagster-port", type=int, default=3000)
    ui.add_argument("--mlflow-port", type=int, default=5000)
    ui.set_defaults(func=_ui)

    server = sub.add_parser("mlflow-server", help="production: the MLflow tracking server on Postgres "
                            "($COREBRAIN_MLFLOW_BACKEND_URI), artifacts proxied, on 127.0.0.1")
    server.add_argument("--port", type=int, default=5000)
    server.set_defaults(func=_mlflow_server)

    serve = sub.add_parser("serve", help="every read-out of the champion over HTTP on 127.0.0.1 (mlflow models serve)")
    serve.add_argument("--model-uri", default="models:/corebrain@champion")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=5001)
    serve.set_defaults(func=_serve)
    return parser


def _simulator_arguments():
    """The simulator owns its flags (``pipelines.simulate.cli.add_arguments``)."""
    try:
        from pipelines.simulate.cli import add_arguments
    except ImportError:  # pragma: no cover - only while the simulator is absent
        return None
    return add_arguments


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
