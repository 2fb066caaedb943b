import pytest

from pipelines.training.launch import ENTRY_MODULE, training_command


def test_single_process_is_plain_python():
    assert training_command("/v/bin/python") == ["/v/bin/python", "-m", ENTRY_MODULE]


def test_several_processes_go_through_torchrun_next_to_python():
    cmd = training_command("/v/bin/python", nproc_per_node=8)
    assert cmd[0] == "/v/bin/torchrun"
    assert "--nproc-per-node=8" in cmd and cmd[-2:] == ["-m", ENTRY_MODULE]


def test_nonsense_is_refused():
    with pytest.raises(ValueError):
        training_command("python", nproc_per_node=0)
