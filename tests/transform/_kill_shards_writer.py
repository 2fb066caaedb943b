"""A shards writer that can be killed at a chosen point (for ``test_shards_kill``).

``python -m tests.transform._kill_shards_writer WAREHOUSE SHARDS POINT``: writes the shards with
``n_shards=2`` over an existing set; at POINT (``copy``: after the first file is written;
``swap``: right after the first rename/exchange of the swap) it prints ``AT <point>`` and sleeps,
so that the test can ``kill -9`` it exactly there. The hooks only widen the timing window; the
code that runs is the real writer.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path


def _pause(point: str) -> None:
    print(f"AT {point}", flush=True)
    time.sleep(60)


def main(warehouse: str, shards: str, point: str) -> int:
    from pipelines.shards import writer

    if point == "copy":
        real_describe = writer.describe_file

        def describe(*args, **kwargs):
            out = real_describe(*args, **kwargs)
            _pause("copy")
            return out
        writer.describe_file = describe
    elif point == "swap":
        real_replace = os.replace

        def replace(*args, **kwargs):
            real_replace(*args, **kwargs)
            _pause("swap")
        writer.os.replace = replace
        if hasattr(writer, "exchange_dirs"):
            real_exchange = writer.exchange_dirs

            def exchange(*args, **kwargs):
                done = real_exchange(*args, **kwargs)
                if done:
                    _pause("swap")
                return done
            writer.exchange_dirs = exchange
    writer.write_shards(Path(warehouse), Path(shards), n_shards=2)
    print("DONE", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:]))
