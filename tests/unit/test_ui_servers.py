import os
import sys

from pipelines.ui import start_server, stop_server

STUBBORN = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(60)"


def test_a_server_that_ignores_sigterm_is_still_stopped(tmp_path):
    log = tmp_path / "server.log"
    process = start_server([sys.executable, "-c", STUBBORN], log)
    assert os.getpgid(process.pid) == process.pid  # its own process group, stopped as a group
    stop_server(process, grace_s=1.0)
    assert process.poll() is not None


def test_stopping_an_ended_server_is_harmless(tmp_path):
    process = start_server([sys.executable, "-c", "pass"], tmp_path / "server.log")
    process.wait()
    stop_server(process)
