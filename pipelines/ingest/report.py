"""What ingesting one landing day did: counts, reasons, files, event days (the asset's metadata)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any


@dataclass
class DayReport:
    landing_day: date
    landing_folder_found: bool = False
    files_read: int = 0
    files_rejected: int = 0
    rows_read: int = 0
    accepted: int = 0
    quarantined: int = 0
    reasons: Counter = field(default_factory=Counter)        # every quarantine entry, file-level too
    file_errors: dict[str, str] = field(default_factory=dict)
    schema_drift: dict[str, list[str]] = field(default_factory=dict)
    event_days: dict[str, int] = field(default_factory=dict)
    hidden_files: list[str] = field(default_factory=list)
    # files not read this time (too young, or changed while being read): left for the next run
    files_left: dict[str, str] = field(default_factory=dict)
    written: list[str] = field(default_factory=list)
    # {later landing day L: {event day E: rows}}: L's lake held event_ids this day accepted first
    later_duplicates: dict[str, dict[str, int]] = field(default_factory=dict)
    later_duplicates_unresolved: list[str] = field(default_factory=list)   # L without landing files
    reingested_for_dedupe: bool = False   # re-read because an earlier landing day was ingested after it

    @property
    def reconciles(self) -> bool:
        return self.rows_read == self.accepted + self.quarantined

    @property
    def quarantine_share(self) -> float:
        """Quarantined / read; a day whose every file was rejected whole counts as 1.0 (all bad)."""
        if self.rows_read:
            return self.quarantined / self.rows_read
        return 1.0 if self.files_rejected else 0.0

    @property
    def all_files_rejected(self) -> bool:
        return self.files_rejected > 0 and self.files_read == 0

    @property
    def no_data(self) -> bool:
        """Nothing was delivered for the day: no landing folder, or no landing file in it."""
        return not self.landing_folder_found or (self.files_read + self.files_rejected + len(self.files_left)) == 0

    @property
    def late_days(self) -> dict[str, int]:
        """Accepted rows whose event day is before the landing day, per event day."""
        return {d: n for d, n in self.event_days.items() if d < self.landing_day.isoformat()}

    def as_dict(self) -> dict[str, Any]:
        return {
            "landing_day": self.landing_day.isoformat(), "landing_folder_found": self.landing_folder_found,
            "files_read": self.files_read, "files_rejected": self.files_rejected,
            "rows_read": self.rows_read, "accepted": self.accepted, "quarantined": self.quarantined,
            "reconciles": self.reconciles, "quarantine_share": round(self.quarantine_share, 6),
            "quarantined_by_reason": dict(sorted(self.reasons.items())),
            "file_errors": self.file_errors, "schema_drift": self.schema_drift,
            "event_days": self.event_days, "late_days": self.late_days, "hidden_files": self.hidden_files,
            "files_left_for_next_run": self.files_left, "no_data": self.no_data,
            "later_duplicates": self.later_duplicates,
            "later_duplicates_unresolved": self.later_duplicates_unresolved,
            "reingested_for_dedupe": self.reingested_for_dedupe,
        }
