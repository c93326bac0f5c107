"""What catalog is served: the served version's own (a release is a version plus the catalog state it
was built from), how many items it holds, and whether the store of record holds that catalog now.

The store matches when it is at the catalog revision the version was built from, or when a rollback
(or the replace upload that version was built from) wrote that version's catalog into it and nothing
changed since. Otherwise the next rebuild would read a different catalog.
"""

from __future__ import annotations


def store_matches(manifest: dict, store: dict) -> bool | None:
    """Whether the store holds the catalog `manifest`'s version was built from; None when unknown."""
    revision = store.get("catalog_revision")
    if revision is None:
        return None
    built_from = (manifest.get("catalog") or {}).get("revision")
    release = store.get("catalog_release") or {}
    return built_from == revision or (release.get("version") == manifest.get("version")
                                      and release.get("revision") == revision)


def served_catalog(manifest: dict | None, store: dict) -> dict | None:
    """For `GET /api/admin/index` and the admin page; None while no version is served."""
    if not manifest:
        return None
    kept = manifest.get("catalog") or {}
    release = store.get("catalog_release") or {}
    return {"version": manifest.get("version"), "item_count": manifest.get("item_count"),
            "hidden_items": kept.get("hidden_items"), "built_from_revision": kept.get("revision"),
            "store_revision": store.get("catalog_revision"), "restored_from": release.get("version"),
            "store_matches": store_matches(manifest, store)}
