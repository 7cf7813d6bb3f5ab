"""`rag keys` and `rag users`: a key printed once and stored only as a salted hash in a 0600 file,
listed without it, revoked by id; page users written with a password hash."""

from __future__ import annotations

import io
import json
import stat

from rag.app.access import KeyStore, UserStore

from ..support.cli import run


def test_a_key_is_printed_once_and_stored_only_hashed(tmp_path, capsys):
    index = str(tmp_path / "index")
    code, out, err = run(capsys, "keys", "create", "--index", index, "--role", "editor", "--collection", "team-a")
    assert code == 0, err
    key = out.strip()
    path = tmp_path / "api-keys.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = path.read_text()
    assert key not in stored and key.split("_")[-1] not in stored
    entry = json.loads(stored)["keys"][0]
    assert entry["role"] == "editor" and entry["collections"] == ["team-a"] and entry["kdf"] == "scrypt"
    assert KeyStore(path).principal(key).role == "editor"

    code, out, _ = run(capsys, "keys", "list", "--index", index)
    assert entry["id"] in out and "editor" in out and "team-a" in out and key not in out

    code, out, _ = run(capsys, "keys", "revoke", entry["id"], "--index", index)
    assert code == 0 and KeyStore(path).principal(key) is None


def test_revoking_an_unknown_id_says_so(tmp_path, capsys):
    code, _, err = run(capsys, "keys", "revoke", "nope", "--index", str(tmp_path / "index"))
    assert code == 1 and "rag keys list" in err


def test_a_page_user_is_written_with_a_password_hash(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse\n"))
    code, out, err = run(capsys, "users", "add", "rita", "--role", "reader", "--password-stdin",
                         "--index", str(tmp_path / "index"))
    assert code == 0, err
    path = tmp_path / "users.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and "correct horse" not in path.read_text()
    users = UserStore(path)
    assert users.check("rita", "correct horse") and not users.check("rita", "wrong horse")
    assert users.principal("rita").role == "reader"
