import pytest

from pipelines.training.launch import ENTRY_MODULE, NPROC_ENV, nproc_per_node, training_command


def test_single_process_is_plain_python():
    assert training_command("/v/bin/python") == ["/v/bin/python", "-m", ENTRY_MODULE]


def test_several_processes_go_through_torchrun_next_to_python():
    cmd = training_command("/v/bin/python", nproc_per_node=8)
    assert cmd[0] == "/v/bin/torchrun"
    assert "--nproc-per-node=8" in cmd and cmd[-2:] == ["-m", ENTRY_MODULE]


def test_nonsense_is_refused():
    with pytest.raises(ValueError):
        training_command("python", nproc_per_node=0)


def test_one_node_takes_a_free_rendezvous_port():
    # without --standalone torchrun binds port 29500: two runs on one machine would collide
    assert "--standalone" in training_command("/v/bin/python", nproc_per_node=2)
    assert "--standalone" not in training_command("/v/bin/python", nproc_per_node=2, nnodes=2)


def test_processes_per_node_from_the_run_config_else_the_environment():
    assert nproc_per_node(0, {}) == 1
    assert nproc_per_node(0, {NPROC_ENV: "4"}) == 4
    assert nproc_per_node(2, {NPROC_ENV: "4"}) == 2                     # the launchpad wins
    for bad in ("0", "two", "-1"):
        with pytest.raises(ValueError, match=NPROC_ENV):
            nproc_per_node(0, {NPROC_ENV: bad})
    with pytest.raises(ValueError, match="nproc_per_node"):
        nproc_per_node(-1, {})


def test_progress_line_for_the_dagster_log():
    from pipelines.training.pipes_entry import progress_line

    line = progress_line({"epoch": 0, "epochs": 8, "world_size": 2, "train_loss": 3.14159, "val_ndcg@10": 0.25,
                          "improved": True, "val_n": 64})
    assert line == "epoch 1/8 on 2 process(es): train_loss 3.142 val_ndcg@10 0.25 (best so far)"
    assert progress_line({"epoch": 2, "train_loss": 1.0}) == "epoch 3/? on 1 process(es): train_loss 1"
