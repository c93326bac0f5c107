"""Versioned index directories on disk, published atomically.

Layout under the store's root:

    staging/<tmp>/        builds in progress (never read by the web tier)
    versions/<version>/   complete, immutable index versions
    current -> versions/<version>   a symlink, switched with one atomic rename

A reader that resolves `current` always lands on a complete directory: a version is moved
into `versions/` whole (a rename within one file system) before the pointer is switched.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from recommender.layout import MANIFEST_FILE

KEEP_VERSIONS = 5


class IndexStoreError(RuntimeError):
    """The store cannot do what was asked (unknown version, nothing built yet, disk trouble)."""


def read_manifest(version_dir: Path) -> dict:
    try:
        return json.loads((version_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexStoreError(f"{version_dir.name}: manifest is missing or unreadable ({exc})") from exc


def write_manifest(version_dir: Path, manifest: dict) -> None:
    partial = version_dir / (MANIFEST_FILE + ".tmp")
    partial.write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str), encoding="utf-8")
    partial.replace(version_dir / MANIFEST_FILE)


def new_version_name(now: datetime | None = None) -> str:
    """Sortable by time, unique across processes: 20261124T040353Z-3f9a1c."""
    now = now or datetime.now(timezone.utc)
    return now.strftime("%Y%m%dT%H%M%S%fZ")[:-4] + "Z-" + secrets.token_hex(3)


class IndexStore:
    """Where index versions live; the worker writes it, the web tier only reads it."""

    def __init__(self, root: str | Path, keep: int = KEEP_VERSIONS):
        self.root = Path(root)
        self.keep = keep
        self.versions_dir = self.root / "versions"
        self.staging_root = self.root / "staging"
        self.pointer = self.root / "current"

    # -- reading -------------------------------------------------------------------------
    def current_version(self) -> str | None:
        try:
            return Path(os.readlink(self.pointer)).name
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise IndexStoreError(f"cannot read {self.pointer}: {exc}") from exc

    def version_path(self, version: str) -> Path:
        if not version or "/" in version or version.startswith("."):
            raise IndexStoreError(f"'{version}' is not a version name")
        path = self.versions_dir / version
        if not path.is_dir():
            raise IndexStoreError(f"version '{version}' does not exist")
        return path

    def current_path(self) -> Path | None:
        version = self.current_version()
        return self.version_path(version) if version else None

    def versions(self) -> list[dict]:
        """Manifests of the kept versions, newest first; unreadable ones are listed with their error."""
        if not self.versions_dir.is_dir():
            return []
        current = self.current_version()
        listed = []
        for path in sorted(self.versions_dir.iterdir(), reverse=True):
            if not path.is_dir():
                continue
            try:
                manifest = read_manifest(path)
            except IndexStoreError as exc:
                manifest = {"version": path.name, "error": str(exc)}
            manifest["current"] = path.name == current
            listed.append(manifest)
        return listed

    def find_build(self, build_id: str) -> str | None:
        """The version a build already published, so a retried task does not publish twice."""
        for manifest in self.versions():
            if manifest.get("build_id") == build_id:
                return manifest["version"]
        return None

    # -- writing (worker only) -------------------------------------------------------------
    def clear_staging(self) -> None:
        """Remove what a killed build left behind; call only while holding the build lock."""
        if self.staging_root.is_dir():
            for leftover in self.staging_root.iterdir():
                shutil.rmtree(leftover, ignore_errors=True)

    @contextlib.contextmanager
    def staging(self):
        """A fresh directory for one build, removed unless it was published."""
        self.staging_root.mkdir(parents=True, exist_ok=True)
        path = Path(tempfile.mkdtemp(prefix="build-", dir=self.staging_root))
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)

    @contextlib.contextmanager
    def _locked(self):
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".publish.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def publish(self, staging_dir: Path, build_id: str | None = None) -> str:
        """Move a finished build into place and point `current` at it; returns its version.

        With a build_id, publishing the same build twice returns the first version instead.
        """
        with self._locked():
            if build_id and (existing := self.find_build(build_id)):
                return existing
            manifest = read_manifest(staging_dir)
            version = new_version_name()
            manifest.update(version=version, build_id=build_id,
                            published_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
            write_manifest(staging_dir, manifest)
            self.versions_dir.mkdir(parents=True, exist_ok=True)
            final = self.versions_dir / version
            os.rename(staging_dir, final)
            _fsync_dir(self.versions_dir)
            self._point_at(version)
            self._prune()
            return version

    def rollback(self, version: str) -> str:
        """Serve a kept version again."""
        with self._locked():
            self.version_path(version)
            read_manifest(self.versions_dir / version)
            self._point_at(version)
            return version

    def _point_at(self, version: str) -> None:
        link = self.root / f".current-{secrets.token_hex(4)}"
        os.symlink(Path("versions") / version, link)
        os.replace(link, self.pointer)
        _fsync_dir(self.root)

    def _prune(self) -> None:
        """Keep the newest versions (and always the current one); older ones are removed."""
        current = self.current_version()
        names = sorted((p.name for p in self.versions_dir.iterdir() if p.is_dir()), reverse=True)
        for name in names[self.keep:]:
            if name != current:
                shutil.rmtree(self.versions_dir / name, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
