"""Files holding tenants' data: created owner-only, tightened when found loose, one clear error otherwise."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from keystroke.domain.privacy.audit import AuditLog
from keystroke.domain.storage import private_directory, private_file
from keystroke.domain.telemetry.events import Event
from keystroke.domain.telemetry.store import MAX_OPEN, TelemetryStore
from keystroke.errors import ConfigError


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_folders_and_files_are_owner_only_and_loose_ones_are_tightened(tmp_path: Path) -> None:
    created = private_file(tmp_path / "new" / "deeper" / "data.sqlite3")
    assert (mode(created), mode(created.parent), mode(created.parent.parent)) == (0o600, 0o700, 0o700)
    loose = tmp_path / "old.sqlite3"
    loose.write_text("")
    loose.chmod(0o644)
    (tmp_path / "old.sqlite3-wal").write_text("")
    (tmp_path / "old.sqlite3-wal").chmod(0o644)
    private_file(loose)
    assert mode(loose) == mode(tmp_path / "old.sqlite3-wal") == 0o600


def test_an_audit_log_and_its_journal_are_owner_only(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.sqlite3")
    try:
        journals = list(tmp_path.glob("audit.sqlite3*"))
        assert journals
        assert {mode(path) for path in journals} == {0o600}
    finally:
        log.close()


@pytest.mark.parametrize("kind", ["a file in the way", "read-only file system"])
def test_a_folder_that_cannot_be_used_is_a_config_error_naming_it(tmp_path: Path, kind: str) -> None:
    if kind == "a file in the way":
        (tmp_path / "blocker").write_text("")
        where = tmp_path / "blocker" / "data"
    else:
        where = Path("/proc/keystroke-test")
    with pytest.raises(ConfigError, match=r"cannot keep data in .*KEYSTROKE_DATA_DIR") as caught:
        private_directory(where)
    assert str(where) in str(caught.value)


def test_reading_unknown_tenants_creates_nothing_and_open_files_are_bounded(tmp_path: Path) -> None:
    store = TelemetryStore(tmp_path / "telemetry")
    try:
        for n in range(200):
            assert store.rates(f"nobody{n}").shown == 0
        assert list((tmp_path / "telemetry").iterdir()) == []
        for n in range(MAX_OPEN + 20):
            store.add(f"tenant{n}", [Event("shown", f"s{n}", "inline", "python", 3)])
        assert store.open_files == MAX_OPEN
        assert store.rates("tenant0").shown == 1  # closed for a while, read again from its file
        assert {mode(p) for p in (tmp_path / "telemetry").iterdir()} == {0o600}
    finally:
        store.close()


def test_a_tenant_name_is_never_a_path(tmp_path: Path) -> None:
    store = TelemetryStore(tmp_path / "telemetry")
    with pytest.raises(ConfigError):
        store.add("../escape", [Event("shown", "s", "inline", "python", 3)])
    store.close()
