"""The training step as a Kubernetes pod: the same torchrun command, started by dagster-k8s's Pipes client.

``COREBRAIN_TRAINING_LAUNCHER=k8s`` makes ``core_model`` start training in its own pod (from
``deploy/k8s/training-pod.yaml``, the code-location image) instead of a local subprocess; progress
and metrics come back through the pod's log (Pipes), the checkpoints through the volume both pods
mount at ``COREBRAIN_HOME``. The spec is built by pure functions here, so it is tested without a cluster.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from pathlib import Path

import yaml

from pipelines.training.launch import training_command

LAUNCHER_ENV = "COREBRAIN_TRAINING_LAUNCHER"
IMAGE_ENV = "COREBRAIN_TRAINING_IMAGE"
POD_FILE_ENV = "COREBRAIN_TRAINING_POD_FILE"
LAUNCHERS = ("subprocess", "k8s")
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_POD_FILE = REPO_ROOT / "deploy" / "k8s" / "training-pod.yaml"
POD_PYTHON = "/app/.venv/bin/python"    # deploy/Dockerfile's venv
POD_REPO = "/app"


def training_launcher(environ: Mapping[str, str] = os.environ) -> str:
    """``subprocess`` (the default: a child process of the step) or ``k8s`` (a pod of its own)."""
    kind = environ.get(LAUNCHER_ENV, "").strip() or "subprocess"
    if kind not in LAUNCHERS:
        raise ValueError(f"${LAUNCHER_ENV} is {kind!r}: use one of {', '.join(LAUNCHERS)} (or unset it)")
    return kind


def base_pod_spec(path: str | Path = DEFAULT_POD_FILE) -> dict:
    """The ``spec`` of the Pod manifest at ``path``."""
    manifest = yaml.safe_load(Path(path).read_text())
    if not isinstance(manifest, dict) or manifest.get("kind") != "Pod" or "spec" not in manifest:
        raise ValueError(f"{path} is not a Pod manifest with a spec: see deploy/k8s/training-pod.yaml")
    return manifest["spec"]


def training_pod_spec(base: Mapping, nproc_per_node: int) -> dict:
    """``base`` with the training container asking for a CPU per process (pure; ``base`` unchanged).
    A request already larger is kept; GPUs (``nvidia.com/gpu``) are the base manifest's to ask for."""
    spec = copy.deepcopy(dict(base))
    containers = spec.get("containers") or []
    if not containers:
        raise ValueError("the training pod spec has no containers: the first one runs torchrun")
    resources = containers[0].setdefault("resources", {})
    requests = resources.setdefault("requests", {})
    have = str(requests.get("cpu", "0"))
    have_cpus = float(have[:-1]) / 1000 if have.endswith("m") else float(have)
    if have_cpus < nproc_per_node:
        requests["cpu"] = str(nproc_per_node)
    return spec


def pod_command(nproc_per_node: int) -> list[str]:
    """The command of the training container: ``training_command`` with the image's Python."""
    return training_command(POD_PYTHON, nproc_per_node=nproc_per_node)


def pod_env(env: Mapping[str, str]) -> dict[str, str]:
    """The Pipes step's env for the pod: the image's repo on PYTHONPATH, not the orchestrator's."""
    return {**env, "PYTHONPATH": POD_REPO}


def run_training_pod(context, env: Mapping[str, str], nproc_per_node: int,
                     environ: Mapping[str, str] = os.environ):
    """Start the training pod through ``dagster_k8s.PipesK8sClient`` and wait for it (Pipes invocation)."""
    from dagster_k8s import PipesK8sClient

    image = environ.get(IMAGE_ENV, "").strip()
    if not image:
        raise ValueError(f"${LAUNCHER_ENV}=k8s needs ${IMAGE_ENV}: the code-location image to train in "
                         "(deploy/helm/dagster-values.yaml sets both)")
    spec = training_pod_spec(base_pod_spec(environ.get(POD_FILE_ENV) or DEFAULT_POD_FILE), nproc_per_node)
    return PipesK8sClient().run(context=context, image=image, command=pod_command(nproc_per_node),
                                env=pod_env(env), base_pod_spec=spec)
