"""Roles and keys (rag.app.access): what each role may do, collections a principal sees, and a key
file changed on disk taking effect on the next check."""

from __future__ import annotations

import pytest

from rag.app.access import KeyStore, Principal
from rag.core.errors import AccessError


def test_each_role_may_do_what_the_roles_below_it_may():
    reader, editor, admin = (Principal("x", role) for role in ("reader", "editor", "admin"))
    assert reader.may("ask") and reader.may("search") and not reader.may("upload")
    assert editor.may("upload") and editor.may("remove") and not editor.may("manage")
    assert admin.may("manage")
    with pytest.raises(AccessError, match="editor role"):
        reader.check("upload")


def test_a_principal_limited_to_collections_sees_only_those():
    who = Principal("x", "reader", frozenset({"team-a"}))
    assert who.sees("team-a") and not who.sees("team-b")
    assert Principal("y", "reader").sees("anything")


def test_a_key_revoked_by_another_process_stops_at_once(tmp_path):
    serving, cli = KeyStore(tmp_path / "keys.json"), KeyStore(tmp_path / "keys.json")
    key, listing = cli.create("reader")
    assert serving.principal(key) is not None  # checked and remembered
    cli.revoke(listing["id"])
    assert serving.principal(key) is None


def test_a_tampered_key_is_refused(tmp_path):
    keys = KeyStore(tmp_path / "keys.json")
    key, _ = keys.create("admin")
    assert keys.principal(key[:-1] + ("A" if key[-1] != "A" else "B")) is None
    assert keys.principal("Bearer") is None and keys.principal("") is None
