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
from recommender.neighbours import version_marks

KEEP_VERSIONS = 5
KEPT_KEY = "kept_unpublished"  # manifest: why a build was kept without being published ("pinned", "held back")


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
        labels = version_marks.read_labels(self.root)
        pinned = (self.pinned() or {}).get("version")
        listed = []
        for path in sorted(self.versions_dir.iterdir(), reverse=True):
            if not path.is_dir():
                continue
            try:
                manifest = read_manifest(path)
            except IndexStoreError as exc:
                manifest = {"version": path.name, "error": str(exc)}
            manifest["current"] = path.name == current
            manifest.update(label=labels.get(path.name, manifest.get("label")), pinned=path.name == pinned,
                            trigger=manifest.get("trigger"), held_back=manifest.get("held_back"),
                            waiting=bool(manifest.get(KEPT_KEY)) and path.name != current
                            and current is not None and path.name > current)
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
        return self.publish_or_keep(staging_dir, build_id)[0]

    def publish_or_keep(self, staging_dir: Path, build_id: str | None = None, automatic: bool = False,
                        held_back: bool = False, protected: set[str] | None = frozenset()) -> tuple[str, str | None]:
        """Move a finished build into place and publish it, or keep it unpublished: an automatic build
        while a version is pinned, or one the quality gate held back. Returns (version, why it was kept
        or None). The pin is read under the publish lock, so a pin set before this returns is obeyed.
        A publish by hand while pinned moves the pin to the new version. `protected` names versions
        pruning must spare besides the served, pinned and labelled ones (None: prune nothing)."""
        with self._locked():
            if build_id and (existing := self.find_build(build_id)):
                return existing, read_manifest(self.versions_dir / existing).get(KEPT_KEY)
            pin = self.pinned()
            kept = ("pinned" if pin else "held back") if automatic and (pin or held_back) else None
            manifest = read_manifest(staging_dir)
            version = new_version_name()
            now = datetime.now(timezone.utc).isoformat(timespec="seconds")
            manifest.update(version=version, build_id=build_id, **({KEPT_KEY: kept, "kept_at": now} if kept
                                                                      else {"published_at": now}))
            write_manifest(staging_dir, manifest)
            self.versions_dir.mkdir(parents=True, exist_ok=True)
            os.rename(staging_dir, self.versions_dir / version)
            _fsync_dir(self.versions_dir)
            if not kept:
                self._point_at(version)
                if pin:
                    version_marks.write_pin(self.root, version, pin.get("why") or "pinned")
            self._prune(protected)
            return version, kept

    # -- marks: the pin and labels (web tier and worker, under the publish lock) -----------------
    def pinned(self) -> dict | None:
        return version_marks.read_pin(self.root)

    def pin(self, why: str, version: str | None = None) -> dict:
        """Pin the served version (or `version`, e.g. a rollback's target): automatic builds stop publishing."""
        with self._locked():
            version = version or self.current_version()
            if not version:
                raise IndexStoreError("no version is served yet, so there is nothing to pin")
            self.version_path(version)
            return version_marks.write_pin(self.root, version, why)

    def unpin(self) -> None:
        with self._locked():
            version_marks.clear_pin(self.root)

    def labels(self) -> dict[str, str]:
        return version_marks.read_labels(self.root)

    def set_label(self, version: str, label: str | None) -> None:
        """Label a kept version (None or "" removes its label); labelled versions are never pruned."""
        with self._locked():
            self.version_path(version)
            labels = version_marks.read_labels(self.root)
            labels.pop(version, None)
            if label:
                labels[version] = label
            version_marks.write_labels(self.root, {k: v for k, v in labels.items() if (self.versions_dir / k).is_dir()})

    def rollback(self, version: str, pin_why: str | None = None) -> str:
        """Serve a kept version again; with `pin_why`, pin it. Without, a pin set before moves to it."""
        with self._locked():
            self.version_path(version)
            read_manifest(self.versions_dir / version)
            self._point_at(version)
            pin = self.pinned()
            if pin_why or pin:
                version_marks.write_pin(self.root, version, pin_why or pin.get("why") or "pinned")
            return version

    def _point_at(self, version: str) -> None:
        link = self.root / f".current-{secrets.token_hex(4)}"
        os.symlink(Path("versions") / version, link)
        os.replace(link, self.pointer)
        _fsync_dir(self.root)

    def _prune(self, protected: set[str] | None = frozenset()) -> None:
        """Never remove the served, the pinned or a labelled version, nor any in `protected` (a running
        experiment's arms; None when they could not be read: then nothing is removed). Of the rest,
        the newest `keep` stay and older ones are removed."""
        if protected is None:
            return
        spared = {self.current_version(), (self.pinned() or {}).get("version"), *self.labels(), *protected}
        names = sorted((p.name for p in self.versions_dir.iterdir() if p.is_dir()), reverse=True)
        for name in [n for n in names if n not in spared][self.keep:]:
            shutil.rmtree(self.versions_dir / name, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
