"""Who may do what: API keys and page users, each with a role and the collections it may see.

Keys and passwords are stored only as salted scrypt hashes, in JSON files readable by their owner
alone (0600). A key is shown once, when it is made. The server re-reads a file when it changes on
disk, so `rag keys revoke` takes effect on the next request, without a restart.

Roles, each including the one before: a reader asks and searches; an editor also uploads and
removes documents; an admin also creates and deletes collections. A principal limited to some
collections does not learn that others exist: the API answers 404 for them, as for a name
that is not there.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.core.errors import AccessError, ConfigError

ROLES = ("reader", "editor", "admin")
# What each role may do; a role may also do everything the roles before it may.
ACTIONS = {"ask": "reader", "search": "reader", "read": "reader", "upload": "editor", "remove": "editor",
           "manage": "admin"}
KEY_PREFIX = "rag_"
ID_CHARS = 8  # hex characters of a key's public id
SECRET_BYTES = 32
# scrypt's cost: about 16 MB and 50 ms a check on a laptop core. A key is checked once a server
# run (then remembered by its SHA-256), so the cost falls on guessing, not on serving.
SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1, "dklen": 32}
FILE_MODE = 0o600


def hash_secret(secret: str, salt: bytes | None = None) -> dict[str, str]:
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, maxmem=64 * 1024 * 1024, **SCRYPT)
    return {"salt": salt.hex(), "hash": digest.hex(), "kdf": "scrypt"}


def check_secret(secret: str, stored: dict[str, Any]) -> bool:
    try:
        salt = bytes.fromhex(stored["salt"])
        expected = bytes.fromhex(stored["hash"])
    except (KeyError, TypeError, ValueError):
        return False
    return hmac.compare_digest(hash_secret(secret, salt)["hash"], expected.hex())


@dataclass(frozen=True)
class Principal:
    """Whoever makes a request: a key, a page user, or (no keys configured, loopback only) this
    machine's own user. `collections`: the ones it may see; None means all."""

    id: str
    role: str
    collections: frozenset[str] | None = None

    def may(self, action: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(ACTIONS[action])

    def sees(self, collection: str) -> bool:
        return self.collections is None or collection in self.collections

    def check(self, action: str) -> None:
        if not self.may(action):
            raise AccessError(f"a {self.role} may not {action.replace('manage', 'manage collections')}; "
                              f"that needs the {ACTIONS[action]} role")


LOCAL = Principal("local", "admin")  # the machine's own user, when no key file exists


def check_role(role: str) -> str:
    if role not in ROLES:
        raise ConfigError(f"role must be one of {', '.join(ROLES)} (got {role!r})")
    return role


@dataclass
class _Cached:
    stamp: tuple | None = None
    entries: list[dict[str, Any]] = field(default_factory=list)


class SecretFile:
    """A JSON list of entries in a 0600 file, re-read whenever it changes on disk."""

    kind = "entries"

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._cache = _Cached()

    def exists(self) -> bool:
        return self.path.is_file()

    def entries(self) -> list[dict[str, Any]]:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return []
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        with self._lock:
            if stamp != self._cache.stamp:
                self._cache = _Cached(stamp, self._read())
                self.changed()
            return self._cache.entries

    def changed(self) -> None:
        """Called when the file was (re-)read: what was derived from the old one is dropped."""

    def _read(self) -> list[dict[str, Any]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read {self.path}: {exc}; fix or remove the file") from None
        items = data.get(self.kind) if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise ConfigError(f"{self.path} is not a {self.kind} file (no {self.kind!r} list)")
        return [e for e in items if isinstance(e, dict)]

    def drop(self, field: str, value: str, missing: str) -> None:
        """Remove the entry whose `field` is `value`; `missing`: the error when there is none."""
        entries = self.entries()
        kept = [e for e in entries if e.get(field) != value]
        if len(kept) == len(entries):
            raise ConfigError(missing)
        self.write(kept)

    def write(self, entries: list[dict[str, Any]]) -> None:
        """Written whole to a 0600 sibling and renamed into place: a reader sees the old file or
        the new one, never half of one, and never one others can read."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({self.kind: entries}, f, indent=2)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, self.path)


def _collections(names: Iterable[str] | None) -> list[str] | None:
    names = sorted(set(names or ()))
    return names or None


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class KeyStore(SecretFile):
    """API keys. A key reads `rag_<id>_<secret>`: the id finds its entry, the secret is checked
    against the entry's hash."""

    kind = "keys"

    def __init__(self, path: Path | str):
        super().__init__(path)
        self._verified: dict[str, Principal] = {}  # sha256 of a key checked since the file was read

    def changed(self) -> None:
        self._verified = {}

    def create(self, role: str, collections: Iterable[str] | None = None) -> tuple[str, dict[str, Any]]:
        """A new key, returned once, and its listing (which never holds it)."""
        check_role(role)
        entries = list(self.entries())
        used = {e.get("id") for e in entries}
        key_id = secrets.token_hex(ID_CHARS // 2)
        while key_id in used:
            key_id = secrets.token_hex(ID_CHARS // 2)
        secret = secrets.token_urlsafe(SECRET_BYTES)
        entry = {"id": key_id, "role": role, "collections": _collections(collections), "created": _now(),
                 **hash_secret(secret)}
        self.write([*entries, entry])
        return f"{KEY_PREFIX}{key_id}_{secret}", _listing(entry)

    def listing(self) -> list[dict[str, Any]]:
        return [_listing(e) for e in self.entries()]

    def revoke(self, key_id: str) -> None:
        self.drop("id", key_id, f"no key has the id {key_id!r}; `rag keys list` shows them")

    def principal(self, key: str) -> Principal | None:
        """Whose key this is, or None for a key that is not (or no longer) valid."""
        entries = self.entries()  # re-read first: a revoked key must not live on in the cache
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
        known = self._verified.get(digest)
        if known is not None:
            return known
        prefix, _, rest = key.partition(KEY_PREFIX)
        key_id, sep, secret = rest.partition("_")
        if prefix or not sep or not secret:
            return None
        for e in entries:
            if e.get("id") == key_id and e.get("role") in ROLES and check_secret(secret, e):
                found = Principal(f"key:{key_id}", e["role"], _frozen(e.get("collections")))
                self._verified[digest] = found
                return found
        return None


class UserStore(SecretFile):
    """The page's users: name, password hash, role, collections."""

    kind = "users"

    def add(self, name: str, password: str, role: str, collections: Iterable[str] | None = None) -> None:
        check_role(role)
        if not name.strip() or ":" in name:
            raise ConfigError("a user name must not be empty or hold ':'")
        if len(password) < 8:
            raise ConfigError("a password must have at least 8 characters")
        kept = [e for e in self.entries() if e.get("name") != name]
        self.write([*kept, {"name": name, "role": role, "collections": _collections(collections),
                            "created": _now(), **hash_secret(password)}])

    def remove(self, name: str) -> None:
        self.drop("name", name, f"no user is named {name!r}")

    def listing(self) -> list[dict[str, Any]]:
        return [{"name": e.get("name"), "role": e.get("role"), "collections": e.get("collections"),
                 "created": e.get("created")} for e in self.entries()]

    def check(self, name: str, password: str) -> bool:
        entry = self._entry(name)
        return entry is not None and check_secret(password, entry)

    def principal(self, name: str | None) -> Principal | None:
        entry = self._entry(name) if name else None
        if entry is None or entry.get("role") not in ROLES:
            return None
        return Principal(f"user:{name}", entry["role"], _frozen(entry.get("collections")))

    def _entry(self, name: str) -> dict[str, Any] | None:
        return next((e for e in self.entries() if e.get("name") == name), None)


def _frozen(names: Any) -> frozenset[str] | None:
    return frozenset(str(n) for n in names) if isinstance(names, list) and names else None


def _listing(entry: dict[str, Any]) -> dict[str, Any]:
    return {"id": entry.get("id"), "role": entry.get("role"), "collections": entry.get("collections"),
            "created": entry.get("created")}


def keys_path(config) -> Path:
    """Where the API keys are kept: `keys_file`, else `api-keys.json` beside the index directory."""
    return Path(config.keys_file) if str(config.keys_file).strip() else Path(config.index_dir).parent / "api-keys.json"


def users_path(config) -> Path:
    """Where the page's users are kept: `users_file`, else `users.json` beside the index directory."""
    return Path(config.users_file) if str(config.users_file).strip() else Path(config.index_dir).parent / "users.json"
