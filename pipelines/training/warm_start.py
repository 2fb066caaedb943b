"""When a retrain may start from the champion's weights.

Warm start carries everything the champion learned. After an erasure (``erase_users``) the champion
has seen users who must be gone, so the next model starts cold: "the next trained model has never
seen them" holds for the weights too, not only for the shards.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path


def erasures_after(log_path: Path, since: dt.datetime) -> int:
    """How many erasures ``lake/erasure_log.jsonl`` records at or after ``since`` (UTC)."""
    if not log_path.is_file():
        return 0
    count = 0
    for line in log_path.read_text().splitlines():
        if not line.strip():
            continue
        erased_at = dt.datetime.fromisoformat(json.loads(line)["erased_at"])
        if erased_at.tzinfo is None:
            erased_at = erased_at.replace(tzinfo=dt.UTC)
        if erased_at >= since:
            count += 1
    return count


def may_warm_start(log_path: Path, champion_created_ms: int) -> tuple[bool, str]:
    """(allowed, why) for warm-starting from a champion registered at ``champion_created_ms``."""
    since = dt.datetime.fromtimestamp(champion_created_ms / 1000, tz=dt.UTC)
    erased = erasures_after(log_path, since)
    if erased:
        return False, f"{erased} erasure(s) since the champion was registered ({since:%Y-%m-%d %H:%M}Z): cold start"
    return True, "no erasure since the champion was registered"
