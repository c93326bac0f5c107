"""`flask --app web ...` commands: build an index, ask for similar items, search."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask, current_app

from recommender.ann import BuildError
from recommender.catalog import CatalogError, load_catalog
from recommender.catalog_source import ActiveCatalog, CatalogFiles
from recommender.index_store import read_manifest
from recommender.layout import FORMAT_VERSION
from recommender.model import UnknownItem
from recommender.pipeline import build_and_publish


def active_catalog(app: Flask) -> ActiveCatalog:
    return ActiveCatalog(Path(app.config["DATA_DIR"]) / "catalog")


def ensure_demo_catalog(app: Flask) -> CatalogFiles:
    """The active catalog, preparing the demo one first if there is none yet."""
    files, demo = active_catalog(app).files_or_demo()
    if demo is not None:
        click.echo(f"Prepared the demo catalog: {demo.items} MovieLens movies, {demo.interactions} ratings "
                   f"(dropped {demo.dropped_untitled} movies without a title).")
    return files


def register(app: Flask) -> None:
    @app.cli.command("build-index")
    @click.option("--items", "items_path", type=click.Path(dir_okay=False, path_type=Path),
                  help="Items file (CSV or Parquet). Default: the active catalog, or the demo catalog.")
    @click.option("--interactions", "interactions_path", type=click.Path(dir_okay=False, path_type=Path),
                  help="Interactions file (CSV or Parquet), optional.")
    @click.option("--if-missing", is_flag=True,
                  help="Do nothing when an index of the current format is already published.")
    def build_index_command(items_path, interactions_path, if_missing):
        """Build and publish a new index version."""
        store = current_app.extensions["index_store"]
        if if_missing and store.current_version():
            current = read_manifest(store.current_path())
            if current.get("format") == FORMAT_VERSION:
                click.echo(f"Index {store.current_version()} is already published.")
                return
            click.echo(f"Index {store.current_version()} has format {current.get('format')}; "
                       f"this release serves format {FORMAT_VERSION}, so it is rebuilt.")
        if items_path is None:
            if interactions_path is not None:
                raise click.UsageError("--interactions needs --items")
            files = ensure_demo_catalog(current_app)
        else:
            files = CatalogFiles(items_path, interactions_path)
        try:
            version = build_and_publish(store, files, progress=lambda stage, pct: click.echo(f"  {pct:3d}% {stage}"))
        except (CatalogError, BuildError) as exc:
            raise click.ClickException(str(exc)) from None
        if items_path is not None:
            active_catalog(current_app).replace_with(files)
        manifest = store.versions()[0]
        click.echo(f"Published index {version}: {manifest['item_count']} items, {manifest['dimensions']} "
                   f"dimensions, recall@10 {manifest['recall_at_10']}, built in {manifest['build_seconds']} s.")

    @app.cli.command("evaluate")
    @click.option("--items", "items_path", type=click.Path(dir_okay=False, path_type=Path),
                  help="Items file. Default: the active catalog, or the demo catalog.")
    @click.option("--interactions", "interactions_path", type=click.Path(dir_okay=False, path_type=Path))
    def evaluate_command(items_path, interactions_path):
        """Offline evaluation: HitRate@10, NDCG@10 and coverage@10 of the blend against baselines."""
        from recommender.evaluation import evaluate, format_table  # the build stack, only for this command

        files = CatalogFiles(items_path, interactions_path) if items_path else ensure_demo_catalog(current_app)
        try:
            catalog = load_catalog(files.items, files.interactions)
        except CatalogError as exc:
            raise click.ClickException(str(exc)) from None
        if catalog.interactions is None or catalog.interactions.empty:
            raise click.ClickException("evaluation needs interactions: pass --interactions")
        click.echo(format_table(evaluate(catalog.items, catalog.interactions)))

    @app.cli.command("similar")
    @click.argument("item_id")
    @click.option("-k", default=10, type=click.IntRange(1, 100), show_default=True)
    def similar_command(item_id, k):
        """Print the k items most similar to ITEM_ID."""
        model = _model()
        try:
            item = model.get_item(item_id)
        except UnknownItem as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"Similar to {item.item_id} {item.title} (index {model.version}):")
        for result in model.get_similar_items(item_id, k):
            click.echo(f"  {result.score:6.3f}  {result.item_id:>10}  {result.title}")

    @app.cli.command("search")
    @click.argument("query")
    def search_command(query):
        """Search titles as the search box does."""
        model = _model()
        results = model.search(query)
        if not results:
            click.echo("No matches.")
        for result in results:
            click.echo(f"  {result.item.item_id:>10}  {result.item.title}")


def _model():
    model = current_app.extensions["model_holder"].model
    if model is None:
        raise click.ClickException("no index yet: run `flask --app web build-index` first")
    return model
