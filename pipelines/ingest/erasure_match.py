"""Whose row is this? The one rule erasure uses in every format.

A row belongs to an erased user when its ``user_id``, read the way ingest reads it (text stripped,
an integer id as its digits, UTF-8 bytes decoded), **equals** an erased id. Nothing else in the row
counts: ``42`` in a timestamp or a price, ``alice`` in another user's search, ``u1`` inside ``u10``
are other people's data and stay.

Only a line that cannot be parsed into fields at all (broken JSON, undecodable bytes, a CSV record
csv cannot split) falls back to *containing* an id: as the value of a ``"user_id":`` key when one can
still be read, as a whole CSV field, else as a whole token (not inside a longer id). Those removals
are counted apart (``unparsed``) so the erasure log says how many were judged this way.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable
from typing import Any

# "user_id": "..." or "user_id": 123 inside a line too broken for json.loads
_USER_ID_FIELD = re.compile(r'"user_id"\s*:\s*(?:"((?:[^"\\]|\\.)*)"|(-?\d+))')


def normalise_user_id(value: Any) -> str | None:
    """The id ingest would store for this value (``pipelines.ingest.validate.coerce_text``), or, for
    a type ingest rejects (float, bool, list...), its JSON text: never None for a present value."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "backslashreplace")
    if isinstance(value, str):
        text = value.strip()
        return text or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


class IdMatcher:
    """The erased ids and the questions asked of every row."""

    def __init__(self, user_ids: Iterable[str]):
        self.ids = frozenset(i for i in (normalise_user_id(u) for u in user_ids) if i)
        if not self.ids:
            raise ValueError("no user ids to erase")
        self._token = token_pattern(self.ids)

    def owns(self, user_id: Any) -> bool:
        """A parsed row's ``user_id`` value equals an erased id."""
        return normalise_user_id(user_id) in self.ids

    def owns_record(self, obj: Any) -> bool:
        """A parsed JSON element: an object whose ``user_id`` is erased; any other JSON value has no
        user id, so it is judged by its text like an unparsed line."""
        if isinstance(obj, dict):
            return self.owns(obj.get("user_id"))
        return self.contains(json.dumps(obj, ensure_ascii=False))

    def contains(self, text: str) -> bool:
        """The last resort for a line that has no readable fields: an id as a whole token."""
        return bool(self._token.search(text))

    def owns_unparsed_json(self, text: str) -> bool:
        """A JSON line that ``json.loads`` rejects: its ``"user_id":`` value if one can be read,
        else whether it contains an id as a token."""
        found = _USER_ID_FIELD.search(text)
        if found is not None:
            quoted, number = found.groups()
            if number is not None:
                return number in self.ids
            try:
                return self.owns(json.loads(f'"{quoted}"'))
            except ValueError:
                return self.owns(quoted)
        return self.contains(text)

    def owns_unparsed_csv(self, text: str) -> bool:
        """A CSV record whose fields do not line up with the header: any whole field equal to an
        id (its column is unknown), else (csv cannot split it) a token."""
        try:
            rows = list(csv.reader(text.splitlines()))
        except csv.Error:
            return self.contains(text)
        return any(normalise_user_id(value) in self.ids for row in rows for value in row)

    def owns_unparsed(self, text: str, source_format: str) -> bool:
        return self.owns_unparsed_csv(text) if source_format == "csv" else self.owns_unparsed_json(text)


def token_pattern(user_ids: Iterable[str]) -> re.Pattern[str]:
    """Matches any of the ids as a whole token (``u1`` does not match inside ``u10``)."""
    alternatives = "|".join(re.escape(u) for u in sorted(set(user_ids), key=len, reverse=True))
    return re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])")


def source_format(name: str) -> str:
    """``csv`` or ``json`` (JSON Lines, JSON arrays, Parquet rows rendered as JSON in quarantine)."""
    return "csv" if name.lower().endswith(".csv") else "json"
