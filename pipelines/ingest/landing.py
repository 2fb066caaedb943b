"""Listing landing files safely.

A landing folder is written by someone else: names may be hostile (``..``, control characters,
symlinks pointing outside). Only plain files with a plain name, physically inside the landing
folder, are ever opened; everything else becomes a file-level quarantine entry (UNSAFE_PATH /
UNSUPPORTED_FILE), never a silent skip. Order is by name (bytes), the dedupe order within a day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pipelines.ingest import reasons
from pipelines.ingest.contract import LANDING_SUFFIXES

SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=+-]{0,199}$")
# in-flight uploads by convention (Hadoop / Spark): ignored, but reported in metadata
HIDDEN_PREFIXES = (".", "_")


@dataclass(frozen=True)
class LandingEntry:
    """One entry of a landing folder: ``path`` is set only when the file is safe to open."""

    name: str              # printable form of the file name (ascii() for odd ones)
    source_file: str       # relative to landing/, e.g. events/date=2026-01-01/a.jsonl
    path: Path | None
    reason: str | None = None
    detail: str | None = None


def _printable(name: str) -> str:
    return name if SAFE_NAME.match(name) else ascii(name)[1:-1]


def list_landing_folder(folder: Path, landing_root: Path) -> tuple[list[LandingEntry], list[str]]:
    """Entries of ``folder`` sorted by name, and the hidden names that were ignored.

    ``folder`` missing is not an error (a day without deliveries): ``([], [])``.
    """
    root = landing_root.resolve()
    rel_folder = folder.relative_to(landing_root).as_posix()
    if not folder.exists() and not folder.is_symlink():
        return [], []
    if folder.is_symlink() or not folder.is_dir() or not _inside(folder.resolve(), root):
        return [LandingEntry(name=folder.name, source_file=rel_folder, path=None, reason=reasons.UNSAFE_PATH,
                             detail="landing folder is a symlink or not a folder inside landing/")], []
    entries: list[LandingEntry] = []
    hidden: list[str] = []
    for child in sorted(folder.iterdir(), key=lambda p: p.name.encode("utf-8", "surrogateescape")):
        name = child.name
        shown = _printable(name)
        source_file = f"{rel_folder}/{shown}"
        if name.startswith(HIDDEN_PREFIXES) and SAFE_NAME.match(name[1:] or "-"):
            hidden.append(name)
            continue
        if child.is_symlink():
            entries.append(LandingEntry(shown, source_file, None, reasons.UNSAFE_PATH,
                                        "symlink: not followed (could point outside landing/)"))
        elif not SAFE_NAME.match(name) or ".." in name:
            entries.append(LandingEntry(shown, source_file, None, reasons.UNSAFE_PATH,
                                        "file name has characters outside [A-Za-z0-9._=+-] or '..'"))
        elif not _inside(child.resolve(), root):
            entries.append(LandingEntry(shown, source_file, None, reasons.UNSAFE_PATH,
                                        "resolves outside landing/"))
        elif not child.is_file():
            entries.append(LandingEntry(shown, source_file, None, reasons.UNSUPPORTED_FILE,
                                        "not a regular file (sub-folders are not read)"))
        elif child.suffix.lower() not in LANDING_SUFFIXES:
            entries.append(LandingEntry(shown, source_file, None, reasons.UNSUPPORTED_FILE,
                                        f"extension {child.suffix or '(none)'!s} is not one of "
                                        f"{sorted(LANDING_SUFFIXES)}"))
        else:
            entries.append(LandingEntry(shown, source_file, child))
    return entries, hidden


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents
