"""The key store: keys shown once and stored hashed, every way a key can be wrong, tenant policies."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from keystroke.domain.privacy.tenants import KeyStore
from keystroke.errors import ConfigError


def test_a_key_authenticates_its_tenant_and_only_its_hash_is_stored(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys.json")
    assert not store.has_keys
    record, key = store.create("acme")
    verdict = KeyStore(tmp_path / "keys.json").authenticate(key)  # a fresh reader: from the file
    assert verdict.tenant is not None
    assert verdict.tenant.name == "acme"
    text = (tmp_path / "keys.json").read_text()
    assert key not in text
    assert key.split("_")[2] not in text
    assert record.digest in text
    assert stat.S_IMODE((tmp_path / "keys.json").stat().st_mode) == 0o600


@pytest.mark.parametrize(
    "mangle",
    [
        lambda key: key[:-1],  # truncated
        lambda key: key[:-1] + ("A" if key[-1] != "A" else "B"),  # one character off
        lambda key: key + "x",  # too long
        lambda _: "",  # empty
        lambda _: "not-a-key",  # malformed
        lambda key: key.replace(key[3:11], "00000000"),  # an id that does not exist
    ],
    ids=["truncated", "altered", "extended", "empty", "malformed", "unknown-id"],
)
def test_a_wrong_key_is_401(tmp_path: Path, mangle: object) -> None:
    store = KeyStore(tmp_path / "keys.json")
    _, key = store.create("acme")
    verdict = store.authenticate(mangle(key))  # type: ignore[operator]
    assert verdict.tenant is None
    assert verdict.status == 401


def test_a_revoked_key_replayed_is_401_and_a_disabled_tenant_is_403(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys.json")
    first, first_key = store.create("acme")
    _, second_key = store.create("acme")
    store.revoke(first.id)
    assert store.authenticate(first_key).status == 401
    assert store.authenticate(second_key).tenant is not None
    store.update_tenant("acme", disabled=True)
    verdict = store.authenticate(second_key)
    assert verdict.status == 403
    assert "disabled" in verdict.reason


def test_tenant_names_and_unknown_ids_get_clear_errors(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys.json")
    with pytest.raises(ConfigError, match="tenant name"):
        store.create("../etc")
    with pytest.raises(ConfigError, match="keystroke keys list"):
        store.revoke("deadbeef")
    with pytest.raises(ConfigError, match="no tenant"):
        store.update_tenant("nobody", disabled=True)


def test_a_corrupt_key_file_says_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "keys.json").write_text("{not json")
    with pytest.raises(ConfigError, match="unreadable"):
        KeyStore(tmp_path / "keys.json")


def test_a_gateway_beyond_loopback_stays_closed_when_its_last_key_is_revoked(tmp_path: Path) -> None:
    from starlette.requests import Request

    from keystroke.errors import UnauthorizedError
    from keystroke.transports.http.auth import Authenticator

    store = KeyStore(tmp_path / "keys.json")
    record, key = store.create("acme")
    request = Request({"type": "http", "headers": [(b"authorization", f"Bearer {key}".encode())]})
    outside, inside = Authenticator(store, 512, loopback=False), Authenticator(store, 512, loopback=True)
    assert outside.tenant(request).name == "acme"
    store.revoke(record.id)
    store._checked = 0.0
    with pytest.raises(UnauthorizedError):
        outside.tenant(request)  # no key active: closed, not open
    assert inside.tenant(request).name == "local"  # on loopback, no keys means the single local user
