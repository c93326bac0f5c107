"""The command line a new user reads about (issue 27 item 11): every command the README names exists,
a missing data directory is named (and not created with new tokens), `rebuild` builds from the store,
and search/similar print aligned columns with years and scores that fit the terminal."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.cli import cli as flask_cli

from recommender.index_store import IndexStore, read_manifest
from tests.helpers.apps import make_app

README = Path(__file__).resolve().parent.parent / "README.md"
FLASK_BUILTINS = {"run", "shell", "routes"}


def readme_commands() -> set[str]:
    text = README.read_text(encoding="utf-8")
    return set(re.findall(r"flask (?:--app web )?([a-z][a-z-]+)", text)) - {"app"}


def test_every_command_the_readme_names_exists(app):
    named = readme_commands()
    assert {"build-index", "rebuild", "similar", "search", "evaluate"} <= named
    assert named - FLASK_BUILTINS <= set(app.cli.commands), named - set(app.cli.commands)


def test_without_a_data_dir_the_error_names_it_and_nothing_is_created(tmp_path, monkeypatch):
    monkeypatch.delenv("LIKEWISE_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(flask_cli, ["--app", "web", "similar", "1"])
    assert result.exit_code != 0
    assert str(tmp_path / "var") in result.output and "LIKEWISE_DATA_DIR" in result.output
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_an_empty_data_dir_names_where_the_index_was_looked_for(tmp_path):
    app = make_app(tmp_path / "data")
    result = app.test_cli_runner().invoke(args=["similar", "1"])
    assert result.exit_code != 0
    assert str(tmp_path / "data" / "indexes") in result.output and "build-index" in result.output


def test_rebuild_builds_a_new_version_from_the_store(tmp_path, small_catalog):
    app = make_app(tmp_path / "data")
    runner = app.test_cli_runner()
    first = runner.invoke(args=["build-index", "--items", str(small_catalog.items),
                                "--interactions", str(small_catalog.interactions)])
    assert first.exit_code == 0, first.output
    store = IndexStore(tmp_path / "data" / "indexes")
    before = store.current_version()
    result = runner.invoke(args=["rebuild"])
    assert result.exit_code == 0, result.output
    assert store.current_version() != before and store.current_version() in result.output
    assert read_manifest(store.current_path())["trigger"] == "cli"


def test_rebuild_of_an_empty_store_says_what_to_run(tmp_path):
    result = make_app(tmp_path / "data").test_cli_runner().invoke(args=["rebuild"])
    assert result.exit_code != 0 and "holds no items" in result.output and "build-index" in result.output


def columns_of(lines: list[str]) -> list[int]:
    """Where the title column starts on each line (after score, id and year)."""
    header = lines[0]
    return [header.index("title")] + [len(re.match(r"^\s*-?\d+\.\d{3}\s+\S+\s+(\d{4})?\s+", line).group(0))
                                      for line in lines[1:]]


@pytest.mark.parametrize("width", [50, 120])
def test_search_prints_aligned_scores_ids_years_and_titles_within_the_terminal(app, model, width):
    query = model.popular(1)[0].title.split()[0]
    result = app.test_cli_runner().invoke(args=["search", query], env={"COLUMNS": str(width)})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["score", "id", "year", "title"] and len(lines) > 1
    assert all(len(line) <= width for line in lines)
    assert len(set(columns_of(lines))) == 1, lines
    hits = model.search(query)
    assert f"{hits[0].score:7.3f}" in lines[1] and str(hits[0].item.year) in lines[1]


def test_similar_prints_the_same_aligned_table(app, model):
    item = model.popular(1)[0]
    result = app.test_cli_runner().invoke(args=["similar", item.item_id, "-k", "5"], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()[1:]
    assert len(lines) == 6 and len(set(columns_of(lines))) == 1
