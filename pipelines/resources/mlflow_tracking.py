"""MLflow as a Dagster resource: one tracking store and one experiment with an explicit artifact root.

MLflow 3 defaults to ``./mlflow.db`` and ``./mlruns`` in the working directory; everything here is
resolved under ``$COREBRAIN_HOME`` at run time instead (so a test's tmp home is honoured), unless the
fields are set. The tracking URI is read one way (``CorebrainPaths.mlflow_tracking_uri``: the
``COREBRAIN_MLFLOW_TRACKING_URI`` server, else the local SQLite store), here and in the demo, serve and
the UI; the production profile passes it as ``dg.EnvVar`` (:func:`mlflow_tracking_resource`). There,
a new experiment's artifacts go where the server proxies them unless ``COREBRAIN_MLFLOW_ARTIFACT_ROOT``
says otherwise.
"""

from __future__ import annotations

import os

import dagster as dg

from pipelines.profiles import MLFLOW_URI_ENV, PRODUCTION, current_profile
from pipelines.settings import REGISTERED_MODEL_NAME, current_paths

ARTIFACT_ROOT_ENV = "COREBRAIN_MLFLOW_ARTIFACT_ROOT"


class MlflowTracking(dg.ConfigurableResource):
    tracking_uri: str | None = None
    artifact_root: str | None = None
    experiment_name: str = "corebrain"
    registered_model_name: str = REGISTERED_MODEL_NAME

    def resolved_tracking_uri(self) -> str:
        return self.tracking_uri or current_paths().mlflow_tracking_uri

    def resolved_artifact_root(self) -> str | None:
        """None in production: the tracking server's default, artifacts proxied (``mlflow-artifacts:/``)."""
        if self.artifact_root or os.environ.get(ARTIFACT_ROOT_ENV):
            return self.artifact_root or os.environ[ARTIFACT_ROOT_ENV]
        return None if current_profile() == PRODUCTION else current_paths().mlflow_artifacts.as_uri()

    def activate(self) -> str:
        """Point the mlflow module at our store and experiment; returns the experiment id."""
        os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
        import mlflow

        uri = self.resolved_tracking_uri()
        os.environ["MLFLOW_TRACKING_URI"] = uri
        mlflow.set_tracking_uri(uri)
        client = mlflow.MlflowClient(uri)
        experiment = client.get_experiment_by_name(self.experiment_name)
        if experiment is None:
            experiment_id = client.create_experiment(
                self.experiment_name, artifact_location=self.resolved_artifact_root()
            )
        else:
            experiment_id = experiment.experiment_id
        mlflow.set_experiment(experiment_id=experiment_id)
        return experiment_id

    def client(self):
        import mlflow

        return mlflow.MlflowClient(self.resolved_tracking_uri())


def mlflow_tracking_resource() -> MlflowTracking:
    """The resource for the current profile: production reads the server's URI as ``dg.EnvVar`` (Dagster
    resolves it in each run's process and shows the variable, not its value, in the UI)."""
    if current_profile() == PRODUCTION:
        return MlflowTracking(tracking_uri=dg.EnvVar(MLFLOW_URI_ENV))
    return MlflowTracking()
