"""The ``dagster.yaml`` that Dagster's Helm chart renders from our values (its configmap-instance.yaml).

No ``helm`` binary here, so this mirrors the chart's templates for the parts deploy/helm uses:
scheduler, Postgres storage (run, event log, schedule), the K8sRunLauncher block, the queued run
coordinator, run monitoring (``dagsterDaemon.runMonitoring``, on by default in the chart), compute
logs, telemetry and ``additionalInstanceConfig``. A value these templates do not
read raises instead of being dropped, so a typo in the values cannot pass silently.
"""

from __future__ import annotations

from typing import Any

# runLauncher.config.k8sRunLauncher (camelCase in the values) -> K8sRunLauncher config (the chart's template)
K8S_LAUNCHER_KEYS = {"loadInclusterConfig": "load_incluster_config", "kubeconfigFile": "kubeconfig_file",
                     "jobNamespace": "job_namespace", "imagePullPolicy": "image_pull_policy",
                     "envConfigMaps": "env_config_maps", "envSecrets": "env_secrets", "envVars": "env_vars",
                     "volumeMounts": "volume_mounts", "volumes": "volumes", "image": "job_image"}
QUEUED_KEYS = {"maxConcurrentRuns": "max_concurrent_runs", "tagConcurrencyLimits": "tag_concurrency_limits",
               "dequeueIntervalSeconds": "dequeue_interval_seconds"}
COMPUTE_LOGS = {"NoOpComputeLogManager": ("dagster._core.storage.noop_compute_log_manager", "NoOpComputeLogManager")}


class UnreadValue(ValueError):
    """A key in the values that the chart's templates would not read."""


def _only(section: dict, known, where: str) -> None:
    unknown = set(section) - set(known)
    if unknown:
        raise UnreadValue(f"{where}: {sorted(unknown)} are not read by the chart's templates (typo?)")


def postgres_config(values: dict) -> dict:
    pg = values["postgresql"]
    if pg.get("enabled", True):
        raise UnreadValue("postgresql.enabled must be false: the instance lives on an external Postgres")
    cfg = {"postgres_db": {"username": pg["postgresqlUsername"], "password": {"env": "DAGSTER_PG_PASSWORD"},
                           "hostname": pg["postgresqlHost"], "db_name": pg["postgresqlDatabase"],
                           "port": int(pg["service"]["port"]), "params": pg.get("postgresqlParams") or {}}}
    if pg.get("postgresqlScheme"):
        cfg["postgres_db"]["scheme"] = pg["postgresqlScheme"]
    return cfg


def k8s_run_launcher(values: dict, namespace: str) -> dict:
    launcher = values["runLauncher"]
    if launcher.get("type") != "K8sRunLauncher":
        raise UnreadValue(f"runLauncher.type is {launcher.get('type')!r}, deploy/ uses K8sRunLauncher")
    given = launcher["config"]["k8sRunLauncher"]
    _only(given, K8S_LAUNCHER_KEYS, "runLauncher.config.k8sRunLauncher")
    cfg: dict[str, Any] = {
        "load_incluster_config": given.get("loadInclusterConfig", True),
        "job_namespace": given.get("jobNamespace") or namespace,
        "image_pull_policy": given.get("imagePullPolicy", "Always"),
        "service_account_name": values.get("global", {}).get("serviceAccountName") or "dagster",
        "dagster_home": {"env": "DAGSTER_HOME"},
        "instance_config_map": {"env": "DAGSTER_K8S_INSTANCE_CONFIG_MAP"},
        "postgres_password_secret": {"env": "DAGSTER_K8S_PG_PASSWORD_SECRET"},
        "env_config_maps": [{"env": "DAGSTER_K8S_PIPELINE_RUN_ENV_CONFIGMAP"},
                            *[c["name"] for c in given.get("envConfigMaps", []) if "name" in c]],
    }
    if given.get("kubeconfigFile"):
        cfg["kubeconfig_file"] = given["kubeconfigFile"]
    if values.get("imagePullSecrets"):
        cfg["image_pull_secrets"] = values["imagePullSecrets"]
    if "image" in given:
        image = given["image"]
        cfg["job_image"] = f"{image['repository']}:{image['tag']}"
    if given.get("envSecrets"):
        cfg["env_secrets"] = [s["name"] for s in given["envSecrets"] if "name" in s]
    for key in ("envVars", "volumeMounts", "volumes"):
        if given.get(key):
            cfg[K8S_LAUNCHER_KEYS[key]] = given[key]
    return {"module": "dagster_k8s", "class": "K8sRunLauncher", "config": cfg}


def queued_run_coordinator(values: dict) -> dict | None:
    daemon = values.get("dagsterDaemon", {})
    coordinator = daemon.get("runCoordinator", {})
    if not (daemon.get("enabled") and coordinator.get("enabled")):
        return None
    if coordinator.get("type") != "QueuedRunCoordinator":
        raise UnreadValue(f"dagsterDaemon.runCoordinator.type {coordinator.get('type')!r} is not rendered here")
    given = coordinator.get("config", {}).get("queuedRunCoordinator", {}) or {}
    _only(given, QUEUED_KEYS, "dagsterDaemon.runCoordinator.config.queuedRunCoordinator")
    out: dict[str, Any] = {"module": "dagster._core.run_coordinator", "class": "QueuedRunCoordinator"}
    config = {QUEUED_KEYS[k]: v for k, v in given.items() if v is not None}
    if config:
        out["config"] = config
    return out


def run_monitoring(values: dict) -> dict | None:
    """The chart's ``run_monitoring`` block: rendered while the daemon and ``runMonitoring`` are on
    (the chart's default), from its own keys only (it has none for ``free_slots_after_run_end_seconds``)."""
    daemon = values.get("dagsterDaemon", {})
    given = daemon.get("runMonitoring", {}) or {}
    if not (daemon.get("enabled", True) and given.get("enabled", True)):
        return None
    out = {"enabled": True, "start_timeout_seconds": given.get("startTimeoutSeconds", 300),
           "poll_interval_seconds": given.get("pollIntervalSeconds", 120)}
    if given.get("maxResumeRunAttempts"):
        out["max_resume_run_attempts"] = given["maxResumeRunAttempts"]
    return out


def instance_config(values: dict, namespace: str = "corebrain") -> dict:
    """The instance config (``dagster.yaml`` as a dict) the chart renders from ``values``."""
    if values.get("scheduler", {}).get("type", "DagsterDaemonScheduler") != "DagsterDaemonScheduler":
        raise UnreadValue("scheduler.type: only DagsterDaemonScheduler is rendered here")
    pg = postgres_config(values)
    logs_type = values.get("computeLogManager", {}).get("type", "NoOpComputeLogManager")
    if logs_type not in COMPUTE_LOGS:
        raise UnreadValue(f"computeLogManager.type {logs_type!r} is not rendered here")
    module, cls = COMPUTE_LOGS[logs_type]
    out: dict[str, Any] = {
        "scheduler": {"module": "dagster._core.scheduler", "class": "DagsterDaemonScheduler"},
        "schedule_storage": {"module": "dagster_postgres.schedule_storage", "class": "PostgresScheduleStorage",
                             "config": pg},
        "run_launcher": k8s_run_launcher(values, namespace),
        "run_storage": {"module": "dagster_postgres.run_storage", "class": "PostgresRunStorage", "config": pg},
        "event_log_storage": {"module": "dagster_postgres.event_log", "class": "PostgresEventLogStorage",
                              "config": pg},
        "compute_logs": {"module": module, "class": cls},
        "telemetry": {"enabled": bool(values.get("telemetry", {}).get("enabled", True))},
    }
    coordinator = queued_run_coordinator(values)
    if coordinator:
        out["run_coordinator"] = coordinator
    monitoring = run_monitoring(values)
    if monitoring:
        out["run_monitoring"] = monitoring
    extra = values.get("additionalInstanceConfig") or {}
    twice = sorted(set(extra) & set(out))
    if twice:  # the chart appends the extra block as text: a key in both is a duplicate YAML key
        raise UnreadValue(f"additionalInstanceConfig sets {twice}, which the chart renders already")
    out.update(extra)
    return out
