"""What changed in ``landing/`` since last time: the landing sensor's pure core.

A fingerprint per landing day folder (and one for ``landing/items``) hashes each entry's name, size
and modification time (lstat: symlinks are not followed), so new, changed and deleted files all
change it. Cheap (no file is opened) and small enough to keep in a sensor cursor.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

DAY_FOLDER = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")
ITEMS_KEY = "items"


def folder_fingerprint(folder: Path) -> str:
    digest = hashlib.sha256()
    with os.scandir(folder) as it:
        for entry in sorted(it, key=lambda e: e.name):
            stat = entry.stat(follow_symlinks=False)
            digest.update(f"{entry.name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def landing_fingerprints(landing: Path) -> dict[str, str]:
    """{'YYYY-MM-DD': fingerprint} for each landing day folder, plus {'items': ...} if present."""
    found: dict[str, str] = {}
    events = landing / "events"
    if events.is_dir():
        for child in events.iterdir():
            match = DAY_FOLDER.match(child.name)
            if match and child.is_dir() and not child.is_symlink():
                found[match.group(1)] = folder_fingerprint(child)
    items = landing / "items"
    if items.is_dir() and any(items.iterdir()):
        found[ITEMS_KEY] = folder_fingerprint(items)
    return found


def changed_keys(previous: dict[str, str], current: dict[str, str]) -> list[str]:
    """Keys that are new, changed or gone (a deleted day must be re-ingested to drop its rows)."""
    return sorted(k for k in set(previous) | set(current) if previous.get(k) != current.get(k))
