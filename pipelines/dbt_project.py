"""The dbt project as dagster-dbt sees it, and how its manifest gets built.

Import-light on purpose (no relative imports, no ``@dbt_assets``): ``dagster-dbt project
prepare-and-package --file pipelines/dbt_project.py`` imports this file on its own. Dagster needs
``dbt_project/target/manifest.json`` before it can import the transform definitions; build it at
install time with either command (both run the venv's own ``dbt parse``)::

    .venv/bin/python -m pipelines.dbt_project
    .venv/bin/dagster-dbt project prepare-and-package --file pipelines/dbt_project.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from dagster_dbt import DbtProject
from dagster_dbt.dbt_project import DagsterDbtProjectPreparer
from dagster_shared.record import replace

DBT_PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt_project"


def dbt_executable() -> str:
    """The ``dbt`` next to this interpreter, so an unactivated venv works (PATH may lack it)."""
    return str(Path(sys.executable).with_name("dbt"))


class VenvDbtPreparer(DagsterDbtProjectPreparer):
    """``dbt parse`` with the venv's dbt (the default preparer looks for ``dbt`` on PATH).

    Parses into a private folder and renames the results into ``target/``, so processes importing
    the definitions at the same time never read a half-written manifest.
    """

    def prepare(self, project: DbtProject) -> None:
        target = Path(project.project_dir) / project.target_path
        target.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".parse-", dir=target) as tmp:
            subprocess.run(
                [dbt_executable(), "parse", "--quiet", "--project-dir", str(project.project_dir),
                 "--profiles-dir", str(project.profiles_dir), "--target-path", tmp, "--log-path", tmp],
                check=True,
            )
            for name in ("partial_parse.msgpack", "semantic_manifest.json", "manifest.json"):
                if (Path(tmp) / name).exists():
                    os.replace(Path(tmp) / name, target / name)


# DbtProject() takes no preparer argument: swap it in on the (immutable) record
dbt_project = replace(DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR),
                      preparer=VenvDbtPreparer())
dbt_project.prepare_if_dev()


def ensure_manifest(force: bool = False) -> Path:
    """Parse the project unless a manifest is already there (or ``force``); returns its path."""
    if force or not dbt_project.manifest_path.exists():
        dbt_project.preparer.prepare(dbt_project)
    return dbt_project.manifest_path


if __name__ == "__main__":
    print(ensure_manifest(force=True))
