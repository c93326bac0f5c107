"""The index store: versions appear whole and atomically, can be rolled back, and old ones are pruned."""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from recommender.index_store import (
    KEEP_VERSIONS,
    IndexStore,
    IndexStoreError,
    new_version_name,
    read_manifest,
    write_manifest,
)


def publish_fake(store: IndexStore, label: str, build_id: str | None = None, payload: int = 3) -> str:
    """Stage a tiny version (a manifest and a data file) and publish it."""
    with store.staging() as staging:
        (staging / "data.txt").write_text(label * payload)
        write_manifest(staging, {"label": label, "payload": payload})
        version = store.publish(staging, build_id=build_id)
    time.sleep(0.002)  # version names have millisecond resolution; keep publish order unambiguous
    return version


def version_dirs(store: IndexStore) -> list[str]:
    if not store.versions_dir.exists():
        return []
    return sorted(p.name for p in store.versions_dir.iterdir() if p.is_dir())


def test_empty_store(tmp_path):
    """Before anything is published there is no current version and nothing listed."""
    store = IndexStore(tmp_path / "indexes")
    assert store.current_version() is None
    assert store.current_path() is None
    assert store.versions() == []
    assert store.find_build("anything") is None


def test_publish_moves_staging_into_versions_and_points_current(tmp_path):
    """After publish the staged files live under versions/<version> and `current` points there."""
    store = IndexStore(tmp_path / "indexes")
    with store.staging() as staging:
        (staging / "data.txt").write_text("hello")
        write_manifest(staging, {"label": "a"})
        version = store.publish(staging)
        assert not staging.exists(), "the staging directory is moved, not copied"
    assert store.current_version() == version
    assert store.current_path() == store.versions_dir / version
    assert (store.root / "current" / "data.txt").read_text() == "hello"
    manifest = read_manifest(store.current_path())
    assert manifest["label"] == "a" and manifest["version"] == version and "published_at" in manifest
    assert os.path.islink(store.pointer)
    assert list(store.staging_root.iterdir()) == []


def test_staged_build_is_invisible_until_published(tmp_path):
    """Readers never see a build in progress: not in versions(), not as current."""
    store = IndexStore(tmp_path / "indexes")
    first = publish_fake(store, "a")
    with store.staging() as staging:
        (staging / "data.txt").write_text("half written")
        write_manifest(staging, {"label": "b"})
        assert [m["version"] for m in store.versions()] == [first]
        assert store.current_version() == first
        assert version_dirs(store) == [first]
        second = store.publish(staging)
    assert store.current_version() == second
    assert [m["version"] for m in store.versions()] == [second, first]


def test_first_publish_sets_current_from_none(tmp_path):
    """current_version goes from None straight to a complete version."""
    store = IndexStore(tmp_path / "indexes")
    assert store.current_version() is None
    version = publish_fake(store, "a")
    assert store.current_version() == version
    assert (store.current_path() / "data.txt").read_text() == "aaa"


def test_publish_without_manifest_fails_and_changes_nothing(tmp_path):
    """A build that never wrote its manifest is not a version; the served one stays."""
    store = IndexStore(tmp_path / "indexes")
    first = publish_fake(store, "a")
    with store.staging() as staging:
        (staging / "data.txt").write_text("no manifest")
        with pytest.raises(IndexStoreError):
            store.publish(staging)
    assert store.current_version() == first
    assert version_dirs(store) == [first]


def test_publish_same_build_id_twice(tmp_path):
    """A retried build task publishes once: the second publish returns the first version."""
    store = IndexStore(tmp_path / "indexes")
    first = publish_fake(store, "a", build_id="build-42")
    again = publish_fake(store, "b", build_id="build-42")
    assert again == first
    assert version_dirs(store) == [first]
    assert store.current_version() == first
    assert read_manifest(store.current_path())["label"] == "a"
    assert store.find_build("build-42") == first
    other = publish_fake(store, "c", build_id="build-43")
    assert other != first and store.current_version() == other


def test_versions_newest_first_with_current_flag(tmp_path):
    """versions() lists newest first and marks exactly the current one."""
    store = IndexStore(tmp_path / "indexes")
    published = [publish_fake(store, label) for label in "abc"]
    listed = store.versions()
    assert [m["version"] for m in listed] == published[::-1]
    assert [m["current"] for m in listed] == [True, False, False]
    assert [m["label"] for m in listed] == ["c", "b", "a"]


def test_unreadable_manifest_listed_with_error(tmp_path):
    """A damaged version is listed with its error rather than breaking the listing."""
    store = IndexStore(tmp_path / "indexes")
    version = publish_fake(store, "a")
    (store.versions_dir / version / "manifest.json").write_text("{not json")
    listed = store.versions()
    assert listed[0]["version"] == version and "error" in listed[0]


def test_rollback_switches_current(tmp_path):
    """Rolling back serves an older kept version again, and forward again works too."""
    store = IndexStore(tmp_path / "indexes")
    first = publish_fake(store, "a")
    second = publish_fake(store, "b")
    assert store.current_version() == second
    assert store.rollback(first) == first
    assert store.current_version() == first
    assert (store.root / "current" / "data.txt").read_text() == "aaa"
    assert version_dirs(store) == sorted([first, second]), "rollback deletes nothing"
    store.rollback(second)
    assert store.current_version() == second


@pytest.mark.parametrize("name", ["20990101T000000000Z-abcdef", "", "..", "../etc", ".hidden", "a/b"])
def test_rollback_to_unknown_version(tmp_path, name):
    """Unknown or path-like version names are refused and current stays put."""
    store = IndexStore(tmp_path / "indexes")
    current = publish_fake(store, "a")
    with pytest.raises(IndexStoreError):
        store.rollback(name)
    assert store.current_version() == current


def test_rollback_to_version_without_manifest(tmp_path):
    """A directory that lost its manifest is not served."""
    store = IndexStore(tmp_path / "indexes")
    first = publish_fake(store, "a")
    second = publish_fake(store, "b")
    (store.versions_dir / first / "manifest.json").unlink()
    with pytest.raises(IndexStoreError):
        store.rollback(first)
    assert store.current_version() == second


def test_prune_keeps_newest_five(tmp_path):
    """Publishing more than KEEP_VERSIONS versions removes the oldest ones: the served version plus the
    newest KEEP_VERSIONS of the rest stay (the keep count applies to the unprotected versions)."""
    store = IndexStore(tmp_path / "indexes")
    published = [publish_fake(store, str(i)) for i in range(KEEP_VERSIONS + 3)]
    assert version_dirs(store) == sorted(published[-KEEP_VERSIONS - 1:])
    assert store.current_version() == published[-1]


def test_prune_keeps_current_even_if_old(tmp_path):
    """After a rollback to an old version, pruning never removes the served one."""
    store = IndexStore(tmp_path / "indexes", keep=2)
    published = [publish_fake(store, str(i)) for i in range(2)]
    store.rollback(published[0])
    # another writer, configured with the same keep, prunes while the rolled-back version is served
    other_dirs = []
    for i in range(2):
        name = new_version_name(datetime.now(timezone.utc) + timedelta(seconds=i + 1))
        path = store.versions_dir / name
        path.mkdir()
        write_manifest(path, {"label": f"late{i}"})
        other_dirs.append(name)
    store._prune()
    kept = version_dirs(store)
    assert published[0] in kept, "the current version must survive pruning"
    assert sorted(other_dirs) == sorted(set(kept) - {published[0]})
    assert store.current_version() == published[0]


def test_staging_removed_on_exception(tmp_path):
    """A build that fails leaves no staging directory behind."""
    store = IndexStore(tmp_path / "indexes")
    with pytest.raises(RuntimeError, match="boom"):
        with store.staging() as staging:
            (staging / "data.txt").write_text("partial")
            raise RuntimeError("boom")
    assert not staging.exists()
    assert list(store.staging_root.iterdir()) == []
    assert store.current_version() is None and store.versions() == []


def test_staging_removed_when_not_published(tmp_path):
    """A staging directory that was never published is cleaned up on exit."""
    store = IndexStore(tmp_path / "indexes")
    with store.staging() as staging:
        write_manifest(staging, {"label": "x"})
    assert not staging.exists()


def test_staging_directories_are_distinct(tmp_path):
    """Two builds at once get their own directories."""
    store = IndexStore(tmp_path / "indexes")
    with store.staging() as one, store.staging() as two:
        assert one != two and one.is_dir() and two.is_dir()
        assert one.parent == two.parent == store.staging_root


def test_version_names_sort_by_time():
    """Names sort the same way as the times they were made at, even across seconds and days."""
    start = datetime(2026, 12, 31, 23, 59, 59, 998_000, tzinfo=timezone.utc)
    times = [start + timedelta(milliseconds=ms) for ms in (0, 1, 5, 1000, 86_400_000)]
    names = [new_version_name(t) for t in times]
    assert sorted(names) == names
    assert len(set(names)) == len(names)
    assert names[0].startswith("20261231T235959")


def test_version_names_are_unique_at_the_same_instant():
    """Two processes publishing in the same millisecond still get different names."""
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert len({new_version_name(now) for _ in range(50)}) == 50


def test_published_versions_sort_in_publish_order(tmp_path):
    """Real publishes produce names in the order they happened."""
    store = IndexStore(tmp_path / "indexes")
    published = [publish_fake(store, str(i)) for i in range(4)]
    assert sorted(published) == published


def test_write_manifest_is_complete_json(tmp_path):
    """The manifest is written whole (via a temporary file) and reads back equal."""
    manifest = {"version": "v", "numbers": [1, 2, 3], "when": datetime(2026, 1, 1, tzinfo=timezone.utc)}
    write_manifest(tmp_path, manifest)
    assert not (tmp_path / "manifest.json.tmp").exists()
    loaded = json.loads((tmp_path / "manifest.json").read_text())
    assert loaded["numbers"] == [1, 2, 3] and loaded["when"].startswith("2026-01-01")


def test_reader_never_sees_partial_version_during_publishes(tmp_path):
    """While versions are published, a reader following `current` always finds a whole version."""
    store = IndexStore(tmp_path / "indexes", keep=100)
    publish_fake(store, "0", payload=50)
    failures: list[str] = []
    stop = threading.Event()

    def read_forever():
        while not stop.is_set():
            try:
                manifest = json.loads((store.root / "current" / "manifest.json").read_text())
                data = (store.root / "current" / "data.txt").read_text()
            except (OSError, ValueError) as exc:
                failures.append(repr(exc))
                continue
            if len(data) != manifest["payload"] or "version" not in manifest:
                failures.append(f"partial: {manifest} {len(data)}")

    reader = threading.Thread(target=read_forever)
    reader.start()
    try:
        for i in range(1, 15):
            publish_fake(store, str(i % 10), payload=50)
    finally:
        stop.set()
        reader.join()
    assert failures == []
    assert len(version_dirs(store)) == 15


def test_prune_spares_the_pinned_the_labelled_and_the_protected_versions(tmp_path):
    """Issue 22 problem 3: the keep count applies only to versions nobody protects."""
    store = IndexStore(tmp_path / "indexes", keep=1)
    first = publish_fake(store, "first")
    store.set_label(first, "launch")
    arm, pinned = publish_fake(store, "arm"), publish_fake(store, "pinned")
    store.pin("rollback")

    def automatic(label: str, protected) -> tuple[str, str | None]:
        with store.staging() as staging:
            write_manifest(staging, {"label": label})
            made = store.publish_or_keep(staging, automatic=True, protected=protected)
        time.sleep(0.002)
        return made
    older, kept = automatic("older", {arm})
    newer, _ = automatic("newer", {arm})
    assert kept == "pinned" and store.current_version() == pinned, "a pinned store published an automatic build"
    assert set(version_dirs(store)) == {first, arm, pinned, newer}, "only the older unprotected build may go"
    latest, _ = automatic("unknown arms", None)
    assert set(version_dirs(store)) == {first, arm, pinned, newer, latest}, "with the arms unknown, none go"
