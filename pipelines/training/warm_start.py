"""When a retrain may start from the champion's weights, and from which file.

Warm start carries everything the champion learned. After an erasure (``erase_users``) a model
trained on shards written before it has seen users who must be gone, so the next model starts cold.
What counts is the *data* the champion was trained on, not when it was registered: every shards
manifest records the erasure generation it was written at (the number of erasures in
``lake/erasure_log.jsonl``; the erasure job stamps the shards it cleans with the new one), and
``core_model`` copies it into the version's ``shards_erasure_generation`` tag. A champion may seed a
retrain only if that generation is the current one. A model trained on pre-erasure shards but
registered after the erasure is refused.

The file itself must resolve (symlinks followed) inside this installation's ``training/`` or MLflow
artifact store: a tag naming a path elsewhere is refused, and the checkpoint is loaded with
``weights_only=True`` (``models.checkpoint``) whatever it is.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pipelines.ingest.erasure import erasure_generation
from pipelines.settings import CorebrainPaths

GENERATION_TAG = "shards_erasure_generation"


class UntrustedWarmStart(ValueError):
    """A warm-start path outside this installation's training runs and artifact store."""


def may_warm_start(champion_tags: dict[str, str], current_generation: int) -> tuple[bool, str]:
    """(allowed, why) for warm-starting from a champion with these version tags."""
    recorded = champion_tags.get(GENERATION_TAG)
    if recorded is None or not str(recorded).strip().lstrip("-").isdigit():
        return False, (f"the champion has no {GENERATION_TAG} tag (trained before erasure generations were "
                       "recorded): cold start")
    generation = int(recorded)
    if generation < current_generation:
        return False, (f"{current_generation - generation} erasure(s) since the shards the champion was "
                       f"trained on were written (generation {generation}, now {current_generation}): cold start")
    return True, f"the champion's shards postdate the last erasure (generation {generation})"


def trusted_roots(paths: CorebrainPaths) -> list[Path]:
    return [paths.training_runs.resolve(), paths.mlflow_artifacts.resolve()]


def trusted_checkpoint(path: str | Path, paths: CorebrainPaths) -> Path:
    """``path`` resolved, if it lies inside ``training/`` or the artifact store; else refused."""
    resolved = Path(path).expanduser().resolve()
    roots = trusted_roots(paths)
    if not any(resolved.is_relative_to(root) for root in roots):
        raise UntrustedWarmStart(f"warm-start path {path} resolves to {resolved}, outside this installation's "
                                 f"{' and '.join(map(str, roots))}: refused")
    return resolved


def champion_warm_start(champion, paths: CorebrainPaths, download: Callable[[Path], Path],
                        log: Callable[[str], None] = print) -> Path | None:
    """The champion's checkpoint to warm-start from, or None (cold start, with the reason logged).

    ``champion``: the MLflow ``ModelVersion`` (or None); ``download(dst)``: fetch the version's
    artifacts into ``dst`` (inside ``training/``) and return the folder."""
    if champion is None:
        return None
    allowed, why = may_warm_start(dict(champion.tags), erasure_generation(paths.lake / "erasure_log.jsonl"))
    if not allowed:
        log(f"no warm start from champion v{champion.version}: {why}")
        return None
    local = champion.tags.get("training_dir")
    if local:
        try:
            folder = trusted_checkpoint(local, paths)
            if (folder / "best.pt").is_file():
                return trusted_checkpoint(folder / "best.pt", paths)
        except UntrustedWarmStart as exc:
            log(f"ignoring the champion's training_dir tag: {exc}; using its registered artifact")
    downloaded = download(paths.training_runs / "_warm_start" / f"v{champion.version}")
    found = sorted(Path(downloaded).rglob("*.pt"))
    if not found:
        log(f"no warm start from champion v{champion.version}: its artifact holds no checkpoint")
        return None
    try:
        return trusted_checkpoint(found[0], paths)
    except UntrustedWarmStart as exc:
        log(f"no warm start from champion v{champion.version}: {exc}")
        return None
