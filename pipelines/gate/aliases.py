"""Moving the registry aliases that downstream consumers resolve.

``challenger`` is the newest retrain; ``champion`` is what consumers load; ``previous_champion``
keeps the one before it so that a rollback is a single alias move.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

# fault injection for the crash-safety test: pause between the two alias moves (and say so in a file)
PAUSE_ENV, MARKER_ENV = "COREBRAIN_TEST_PAUSE_IN_ALIAS_MOVE_S", "COREBRAIN_TEST_ALIAS_MOVE_MARKER"

CHALLENGER = "challenger"
CHAMPION = "champion"
PREVIOUS_CHAMPION = "previous_champion"


def version_for_alias(client, name: str, alias: str):
    """The model version behind an alias, or None when the alias (or the model) does not exist."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def promote(client, name: str, version: str) -> str | None:
    """Make ``version`` the champion; returns the version that was champion before, if any.

    Crash-safe by order: ``previous_champion`` moves first, so a kill between the two moves leaves
    ``champion`` on the version it was (one that passed its gate) and a rerun completes the move."""
    before = version_for_alias(client, name, CHAMPION)
    if before is not None and str(before.version) != str(version):
        client.set_registered_model_alias(name, PREVIOUS_CHAMPION, before.version)
    if os.environ.get(PAUSE_ENV):
        Path(os.environ[MARKER_ENV]).write_text(str(version))
        time.sleep(float(os.environ[PAUSE_ENV]))
    client.set_registered_model_alias(name, CHAMPION, str(version))
    return None if before is None else str(before.version)
