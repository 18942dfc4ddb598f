"""What the simulated LiveOne stored: the datastore tests inspect to prove delivery."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

type Value = float | int | str
type LedgerKey = tuple[str, str, datetime]


@dataclass(frozen=True, slots=True)
class StoredReading:
    """One stored point value; (site_id, key, measured_at) is its identity, as in LiveOne."""

    site_id: str
    key: str
    measured_at: datetime
    value: Value
    metric_type: str
    metric_unit: str
    transform: str | None
    subsystem: str | None
    logical_path_stem: str | None
    default_name: str | None
    session_label: str
    stored_at: datetime


class Ledger:
    """Readings keyed by (site, point key, time); the first write wins, later ones are duplicates.

    Keeping the first value (not the last) mirrors an `ON CONFLICT DO NOTHING` insert, so a
    test can tell a resend from an overwrite.
    """

    def __init__(self) -> None:
        self._rows: dict[LedgerKey, StoredReading] = {}
        self.duplicates = 0

    def __len__(self) -> int:
        """Count the distinct readings stored, over every site."""
        return len(self._rows)

    def __iter__(self) -> Iterator[StoredReading]:
        """Iterate over every stored reading, in storage order."""
        return iter(self._rows.values())

    def store(self, reading: StoredReading) -> bool:
        """Store `reading` unless its identity is already stored; return whether it was new."""
        identity = (reading.site_id, reading.key, reading.measured_at)
        if identity in self._rows:
            self.duplicates += 1
            return False
        self._rows[identity] = reading
        return True

    def get(self, site_id: str, key: str, measured_at: datetime) -> StoredReading | None:
        """Return the reading of one point at one time, if stored."""
        return self._rows.get((site_id, key, measured_at))

    def for_site(self, site_id: str) -> list[StoredReading]:
        """Return every reading of a site, ordered by time then key."""
        rows = [row for row in self._rows.values() if row.site_id == site_id]
        return sorted(rows, key=lambda row: (row.measured_at, row.key))

    def series(self, site_id: str, key: str) -> list[StoredReading]:
        """Return one point's readings, oldest first."""
        return [row for row in self.for_site(site_id) if row.key == key]

    def at(self, site_id: str, measured_at: datetime) -> dict[str, StoredReading]:
        """Return every point of a site measured at one time, by key."""
        return {row.key: row for row in self.for_site(site_id) if row.measured_at == measured_at}

    def keys(self, site_id: str) -> set[str]:
        """Return the point keys a site has readings for."""
        return {row.key for row in self._rows.values() if row.site_id == site_id}

    def clear(self) -> None:
        """Forget everything (a fresh datastore)."""
        self._rows.clear()
        self.duplicates = 0
