"""The Kubernetes training pod's pure parts (pipelines/training/k8s_pod.py)."""

import pytest

from pipelines.training.k8s_pod import (
    IMAGE_ENV,
    LAUNCHER_ENV,
    pod_command,
    run_training_pod,
    training_launcher,
    training_pod_spec,
)


def test_the_launcher_is_a_subprocess_unless_told_k8s():
    assert training_launcher({}) == "subprocess"
    assert training_launcher({LAUNCHER_ENV: "k8s"}) == "k8s"
    with pytest.raises(ValueError, match=LAUNCHER_ENV):
        training_launcher({LAUNCHER_ENV: "kubernetes"})


def test_the_pod_asks_a_cpu_per_process_and_keeps_a_larger_request():
    base = {"containers": [{"name": "training", "resources": {"requests": {"cpu": "500m", "memory": "4Gi"}}}]}
    spec = training_pod_spec(base, 2)
    assert spec["containers"][0]["resources"]["requests"] == {"cpu": "2", "memory": "4Gi"}
    assert base["containers"][0]["resources"]["requests"]["cpu"] == "500m"       # the base is not changed
    big = {"containers": [{"name": "t", "resources": {"requests": {"cpu": "16"}}}]}
    assert training_pod_spec(big, 4)["containers"][0]["resources"]["requests"]["cpu"] == "16"
    with pytest.raises(ValueError, match="no containers"):
        training_pod_spec({"containers": []}, 1)


def test_the_pod_runs_torchrun_from_the_images_venv():
    assert pod_command(1) == ["/app/.venv/bin/python", "-m", "pipelines.training.pipes_entry"]
    assert pod_command(8)[:2] == ["/app/.venv/bin/torchrun", "--standalone"]


def test_a_pod_without_an_image_is_a_clear_error():
    pytest.importorskip("dagster_k8s")
    with pytest.raises(ValueError, match=IMAGE_ENV):
        run_training_pod(context=None, env={}, nproc_per_node=1, environ={LAUNCHER_ENV: "k8s"})
