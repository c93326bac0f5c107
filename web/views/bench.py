"""Floor routes for `make bench`: the same app and server, without the model's work.

Registered only when LIKEWISE_BENCH_ROUTES=1, so production never serves them.
"""

from __future__ import annotations

from flask import Blueprint, render_template

from recommender.limits import K_CHOICES
from recommender.model import Filters, Item, SimilarItem
from recommender.similarity.explain import Why

bp = Blueprint("bench", __name__, url_prefix="/bench")

FIXED_ITEM = Item(item_id="0", title="A fixed item", categories=("Drama", "Comedy"), year=1999)
FIXED_RESULTS = [SimilarItem(Item(item_id=str(i), title=f"Fixed neighbour {i}", categories=("Drama",), year=2000 + i),
                             1.0 - i / 20, Why(("Drama",), ("fixed",), 3)) for i in range(1, 11)]


@bp.get("/constant")
def constant():
    return "ok"


@bp.get("/template")
def template():
    """The similar-items fragment with ten fixed results: everything but the lookup."""
    return render_template("partials/similar_panel.html", item=FIXED_ITEM, k=10, k_choices=K_CHOICES,
                           results=FIXED_RESULTS, filters=Filters())
