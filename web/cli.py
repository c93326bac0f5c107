"""`flask --app web ...` commands: build an index, rebuild from the store, evaluate, ask for similar items, search."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import click
from flask import Flask
from flask.cli import with_appcontext

from recommender.catalog.load import CatalogError
from recommender.catalog.sources import ActiveCatalog, CatalogFiles
from recommender.index_store import IndexStore, read_manifest
from recommender.layout import FORMAT_VERSION, BuildError
from recommender.limits import K_DEFAULT, K_MAX, K_MIN
from recommender.metrics.store import arm_versions
from recommender.model import UnknownItem
from recommender.pipeline import build_release
from recommender.store import DatabaseCatalogSource, StoreUnavailable
from web.extensions import index_store, model_holder, settings, store_of_record

ITEMS_HELP = "Items file (CSV or Parquet). Default: the active catalog, or the demo catalog."


def active_catalog() -> ActiveCatalog:
    return ActiveCatalog(settings().catalog_dir)


def ensure_demo_catalog() -> CatalogFiles:
    """The active catalog, preparing the demo one first if there is none yet."""
    files, demo = active_catalog().files_or_demo()
    if demo is not None:
        click.echo(f"Prepared the demo catalog: {demo.items} MovieLens movies, {demo.interactions} ratings "
                   f"(dropped {demo.dropped_untitled} movies without a title).")
    return files


def chosen_files(items_path: Path | None, interactions_path: Path | None) -> CatalogFiles:
    if items_path is None:
        if interactions_path is not None:
            raise click.UsageError("--interactions needs --items")
        return ensure_demo_catalog()
    return CatalogFiles(items_path, interactions_path)


def record_in_store(files: CatalogFiles, replace: bool) -> None:
    """The catalog just built goes into the store of record too: given files replace its catalog; the
    active (or demo) files are imported once, on a fresh store. A database that is down is reported."""
    handle = store_of_record()
    try:
        if replace:
            catalog = files.load()
            handle.get().replace_catalog(catalog.items, catalog.interactions)
        elif handle.prepare(files.items.parent):
            click.echo("Imported the catalog files into the store of record.")
    except StoreUnavailable as exc:
        click.echo(f"Warning: the store of record was not updated: {exc}", err=True)


def current_is_servable(store: IndexStore) -> bool:
    """An index of this release's format is published already (`--if-missing` then does nothing)."""
    if not store.current_version():
        return False
    current = read_manifest(store.current_path())
    if current.get("format") == FORMAT_VERSION:
        click.echo(f"Index {store.current_version()} is already published.")
        return True
    click.echo(f"Index {store.current_version()} has format {current.get('format')}; "
               f"this release serves format {FORMAT_VERSION}, so it is rebuilt.")
    return False


@click.command("build-index")
@with_appcontext
@click.option("--items", "items_path", type=click.Path(dir_okay=False, path_type=Path), help=ITEMS_HELP)
@click.option("--interactions", "interactions_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Interactions file (CSV or Parquet), optional.")
@click.option("--if-missing", is_flag=True, help="Do nothing when an index of the current format is already published.")
def build_index_command(items_path, interactions_path, if_missing):
    """Build and publish a new index version."""
    store = index_store()
    if if_missing and current_is_servable(store):
        return
    files = chosen_files(items_path, interactions_path)
    try:
        version = build_release(store, files, progress=lambda stage, pct: click.echo(f"  {pct:3d}% {stage}"),
                                trigger="cli", protected=arm_versions(store_of_record().get)).version
    except (CatalogError, BuildError) as exc:
        raise click.ClickException(str(exc)) from None
    if items_path is not None:
        active_catalog().replace_with(files)
    record_in_store(files, replace=items_path is not None)
    say_published(store, version)


def say_published(store: IndexStore, version: str) -> None:
    manifest = store.versions()[0]
    click.echo(f"Published index {version} in {store.root}: {manifest['item_count']} items, "
               f"{manifest['dimensions']} dimensions, recall@10 {manifest['recall_at_10']}, "
               f"built in {manifest['build_seconds']} s.")


@click.command("rebuild")
@with_appcontext
def rebuild_command():
    """Build and publish a new index version from the store of record (what "Rebuild now" does, in this process)."""
    try:
        store = store_of_record().get()
    except StoreUnavailable as exc:
        raise click.ClickException(f"{exc}; nothing was built") from None
    if store.summary()["items"] == 0:
        raise click.ClickException(f"the store of record in {settings().data_dir} holds no items: run "
                                   "`flask --app web build-index` (the demo, or --items PATH) first")
    source = DatabaseCatalogSource(store, weights=settings().event_weight_table, horizon_days=settings().event_days)
    try:
        version = build_release(index_store(), source, progress=lambda stage, pct: click.echo(f"  {pct:3d}% {stage}"),
                                trigger="cli", protected=arm_versions(store_of_record().get)).version
    except BuildError as exc:
        raise click.ClickException(str(exc)) from None
    say_published(index_store(), version)


@click.command("evaluate")
@with_appcontext
@click.option("--items", "items_path", type=click.Path(dir_okay=False, path_type=Path), help=ITEMS_HELP)
@click.option("--interactions", "interactions_path", type=click.Path(dir_okay=False, path_type=Path))
def evaluate_command(items_path, interactions_path):
    """Offline evaluation: HitRate@10, NDCG@10 and coverage@10 of the served method against others."""
    from recommender.evaluation.run import evaluate, format_table  # the build stack, only for this command

    try:
        catalog = chosen_files(items_path, interactions_path).load()
    except CatalogError as exc:
        raise click.ClickException(str(exc)) from None
    if catalog.interactions is None or catalog.interactions.empty:
        raise click.ClickException("evaluation needs interactions: pass --interactions")
    click.echo(format_table(evaluate(catalog.items, catalog.interactions)))


@click.command("similar")
@with_appcontext
@click.argument("item_id")
@click.option("-k", default=K_DEFAULT, type=click.IntRange(K_MIN, K_MAX), show_default=True)
def similar_command(item_id, k):
    """Print the k items most similar to ITEM_ID."""
    model = served_model()
    try:
        item = model.get_item(item_id)
    except UnknownItem as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Similar to {item.item_id} {item.title} (index {model.version}):")
    echo_table([(result.score, result.item) for result in model.get_similar_items(item_id, k)])


@click.command("search")
@with_appcontext
@click.argument("query")
def search_command(query):
    """Search titles as the search box does: score, id, year and title of each match, best first."""
    results = served_model().search(query)
    if not results:
        click.echo("No matches.")
        return
    echo_table([(result.score, result.item) for result in results])


def table_lines(rows: list[tuple[float, object]], width: int) -> list[str]:
    """(score, item) rows as aligned columns (score, id, year, title), titles cut to fit `width` characters."""
    id_width = max([len("id"), *(len(item.item_id) for _, item in rows)])
    lines = [f"{'score':>7}  {'id':<{id_width}}  {'year':>4}  title"]
    for score, item in rows:
        lines.append(f"{score:7.3f}  {item.item_id:<{id_width}}  {item.year if item.year is not None else '':>4}  "
                     f"{item.title}")
    return [line if len(line) <= width else line[:max(width - 1, 0)] + "…" for line in lines]


def echo_table(rows: list[tuple[float, object]]) -> None:
    for line in table_lines(rows, shutil.get_terminal_size().columns):
        click.echo(line)


def served_model():
    model = model_holder().model
    if model is None:
        raise click.ClickException(f"no index yet in {index_store().root} ({data_dir_origin()}): run "
                                   "`flask --app web build-index` first, or set LIKEWISE_DATA_DIR to the data "
                                   "directory that holds one")
    return model


def data_dir_origin() -> str:
    if os.environ.get("LIKEWISE_DATA_DIR"):
        return "LIKEWISE_DATA_DIR"
    return "LIKEWISE_DATA_DIR is not set, so the data directory is ./var"


def init_app(app: Flask) -> None:
    for command in (build_index_command, rebuild_command, evaluate_command, similar_command, search_command):
        app.cli.add_command(command)
