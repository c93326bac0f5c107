"""Uploads refused with 422, kept a while so "map columns" can send them again without picking the files.

Each is a directory $LIKEWISE_DATA_DIR/held-uploads/<id>/ with the files as uploaded and meta.json (their
names, owner, time). The id is 32 random bytes (URL-safe) and is checked against its pattern before it
touches a path, so it cannot name one; the owner is a keyed hash of the admin session that uploaded it, so
another session (or the same id after signing out) finds nothing. At most HELD_UPLOADS_MAX are kept (the
oldest go first), each for HELD_UPLOAD_SECONDS.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import io
import json
import re
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from flask import session
from werkzeug.datastructures import FileStorage

from recommender.catalog.column_hints import nearest_column
from recommender.catalog.load import SUPPORTED_SUFFIXES, CatalogError
from recommender.catalog.read import read_table
from recommender.limits import HELD_UPLOAD_SECONDS, HELD_UPLOADS_MAX
from web.auth import SESSION_KEY
from web.extensions import settings

HELD_ID = re.compile(r"^[A-Za-z0-9_-]{43}$")
META = "meta.json"
ROLES = {"items": ("item_id", "title", "description", "categories", "year"),
         "interactions": ("user_id", "item_id", "rating", "timestamp")}
REQUIRED = {"items": ("item_id", "title"), "interactions": ("user_id", "item_id")}


class HeldUploadGone(LookupError):
    """No kept upload of this session has that id (never, expired, or another session's)."""


@dataclass(frozen=True)
class HeldUpload:
    held_id: str
    directory: Path
    names: dict[str, str]  # kind ("items", "interactions") -> the file's name as uploaded

    def path(self, kind: str) -> Path:
        return next(self.directory / f"{kind}{suffix}" for suffix in SUPPORTED_SUFFIXES
                    if (self.directory / f"{kind}{suffix}").is_file())

    @staticmethod
    def roles(kind: str) -> tuple[str, ...]:
        return ROLES[kind]

    def columns(self, kind: str) -> list[str]:
        """The file's column names ([] when it cannot be read at all)."""
        try:
            path = self.path(kind)
        except StopIteration:
            return []
        return list(_columns_of(str(path), path.stat().st_mtime_ns, self.names[kind]))

    def suggested(self, kind: str) -> dict[str, str]:
        """For each required column the file lacks, the column most likely meant."""
        found = self.columns(kind)
        return {role: nearest for role in REQUIRED[kind] if role not in found
                and (nearest := nearest_column(role, found))}


@functools.lru_cache(maxsize=HELD_UPLOADS_MAX * 2)
def _columns_of(path: str, mtime_ns: int, name: str) -> tuple[str, ...]:
    """Read once per file version (mtime_ns is part of the key): the mapping page and its answer both ask."""
    try:
        return tuple(str(c).strip() for c in read_table(Path(path), name).columns)
    except CatalogError:
        return ()


def _root() -> Path:
    return settings().data_dir / "held-uploads"


def _owner() -> str | None:
    """A keyed hash of this browser's admin session id (None without a session: scripts send files again)."""
    session_id = session.get(SESSION_KEY)
    if not isinstance(session_id, str):
        return None
    return hmac.new(settings().secret_key.encode(), session_id.encode(), hashlib.sha256).hexdigest()


def _suffix(upload: FileStorage | None) -> str | None:
    if upload is None or not upload.filename:
        return None
    suffix = Path(upload.filename).suffix.lower()
    return suffix if suffix in SUPPORTED_SUFFIXES else None


def _prune(keep: int) -> None:
    """Drop expired uploads, then the oldest beyond `keep`."""
    root = _root()
    if not root.is_dir():
        return
    held = sorted((entry.stat().st_mtime, entry) for entry in root.iterdir() if HELD_ID.match(entry.name))
    now = time.time()
    for position, (mtime, entry) in enumerate(held):
        if now - mtime > HELD_UPLOAD_SECONDS or position < len(held) - keep:
            shutil.rmtree(entry, ignore_errors=True)


def hold(items: FileStorage | None, interactions: FileStorage | None) -> HeldUpload | None:
    """Keep the files of a refused upload for this session; None when there is nothing to keep."""
    owner = _owner()
    uploads = {kind: upload for kind, upload in (("items", items), ("interactions", interactions))
               if _suffix(upload)}
    if owner is None or "items" not in uploads:
        return None
    _prune(HELD_UPLOADS_MAX - 1)
    held_id = secrets.token_urlsafe(32)
    directory = _root() / held_id
    directory.mkdir(parents=True)
    for kind, upload in uploads.items():
        upload.stream.seek(0)
        upload.save(directory / f"{kind}{_suffix(upload)}")
    names = {kind: upload.filename for kind, upload in uploads.items()}
    (directory / META).write_text(json.dumps({"owner": owner, "names": names}), encoding="utf-8")
    return HeldUpload(held_id, directory, names)


def find(held_id: str) -> HeldUpload:
    """This session's kept upload with that id; HeldUploadGone otherwise."""
    if not HELD_ID.match(held_id or ""):
        raise HeldUploadGone("not an upload id")
    _prune(HELD_UPLOADS_MAX)
    directory = _root() / held_id
    try:
        meta = json.loads((directory / META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise HeldUploadGone("expired or never kept") from None
    owner = _owner()
    if owner is None or not hmac.compare_digest(meta.get("owner", ""), owner):
        raise HeldUploadGone("kept for another session")
    return HeldUpload(held_id, directory, meta["names"])


def discard(held_id: str) -> None:
    if HELD_ID.match(held_id or ""):
        shutil.rmtree(_root() / held_id, ignore_errors=True)


def mapped_file(held: HeldUpload, kind: str, mapping: dict[str, str]) -> FileStorage:
    """The kept file with the chosen columns under the names Likewise reads (as CSV): a role's column is
    the one chosen for it (a column of that name already in the file is replaced)."""
    frame = read_table(held.path(kind), held.names[kind])
    frame.columns = [str(c).strip() for c in frame.columns]
    chosen = {role: column for role, column in mapping.items() if column and column != role}
    roles = frame[[*chosen.values()]].set_axis(list(chosen), axis=1)
    rest = frame.drop(columns=[*chosen, *chosen.values()], errors="ignore")
    data = io.BytesIO(roles.join(rest).to_csv(index=False).encode("utf-8"))
    return FileStorage(stream=data, filename=Path(held.names[kind]).stem + ".csv", content_type="text/csv")
