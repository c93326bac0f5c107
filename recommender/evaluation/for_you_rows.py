"""For-you on the evaluation's own time split (issue 24): each test user's training interactions are their
history, their held-out last liked item is the next item to find. Three rows, HitRate@10 and NDCG@10 with
bootstrap 95% intervals, and for-you's paired differences against the two baselines:

- for-you: as served (recommender/panels/for_you.py): the newest FOR_YOU_EVENTS_READ interactions, weighted by
  `interest` (a rating by its value above 2.5, 14-day half-life counted back from the user's last interaction),
  the FOR_YOU_SEEDS strongest as seeds, scored through the served fusion cut to the neighbour table's width;
- most-popular: the most-interacted items of the training split;
- item-kNN history: plain item-kNN (cosine) summed over the same newest interactions, unweighted, whole rows.

Seen (training) items are never recommended. A user without a usable seed gets most-popular, as served.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recommender.evaluation.evaluator import SERVED, Evaluator
from recommender.evaluation.protocol import K, Split, bootstrap_interval, metrics_of, per_user, seen_matrix, top_k
from recommender.event_weights import DEFAULT_EVENT_WEIGHTS
from recommender.limits import FOR_YOU_EVENTS_READ, FOR_YOU_SEEDS
from recommender.neighbours.lookup import table_width
from recommender.panels.for_you import interest
from recommender.store.event_validation import RATING_TYPE
from recommender.store.user_data import HistoryEvent
from recommender.topk import top_columns

FOR_YOU, POPULAR, HISTORY_KNN = "for-you", "most-popular", "item-kNN history"
ROWS = (FOR_YOU, POPULAR, HISTORY_KNN)
ROW_CHUNK = 512  # item rows scored at once (a chunk is ROW_CHUNK x items floats)
TIE_BREAK = 1e-6
UNRATED_TYPE = "like"


def histories(train: pd.DataFrame, users: np.ndarray) -> list[list[HistoryEvent]]:
    """Each user's newest FOR_YOU_EVENTS_READ training interactions, newest first, as the store returns them."""
    frame = train.assign(_ts=train["timestamp"].fillna(0.0) if "timestamp" in train else 0.0)
    frame = frame.sort_values("_ts", ascending=False, kind="stable")
    grouped = {user: rows.head(FOR_YOU_EVENTS_READ) for user, rows in frame.groupby("user_id", sort=False)}
    found = []
    for user in users:
        rows = grouped.get(user)
        if rows is None:
            found.append([])
            continue
        ratings = rows["rating"].tolist() if "rating" in rows else [None] * len(rows)
        found.append([HistoryEvent(str(item), UNRATED_TYPE if pd.isna(value) else RATING_TYPE,
                                   None if pd.isna(value) else float(value), float(ts))
                      for item, value, ts in zip(rows["item_id"], ratings, rows["_ts"])])
    return found


def _seeds(history: list[HistoryEvent], positions: pd.Index) -> dict[int, float]:
    if not history:
        return {}
    liked = interest(history, DEFAULT_EVENT_WEIGHTS, now=max(e.ts for e in history))
    rows = positions.get_indexer(list(liked))
    ranked = sorted(((w, r) for w, r in zip(liked.values(), rows) if r >= 0), key=lambda pair: -pair[0])
    return {int(r): w for w, r in ranked[:FOR_YOU_SEEDS]}


def _neighbour_table(model, rows: np.ndarray, n_items: int) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """The served fusion's best `table_width` neighbours of each row (positive scores only), as a build keeps."""
    width = table_width(n_items)
    table = {}
    for start in range(0, len(rows), ROW_CHUNK):
        chunk = rows[start:start + ROW_CHUNK]
        scores = np.asarray(model.scores(chunk), dtype=np.float32)
        scores[np.arange(len(chunk)), chunk] = -np.inf
        best = top_columns(scores, width, TIE_BREAK)
        for i, row in enumerate(chunk):
            values = scores[i, best[i]]
            keep = values > 0
            table[int(row)] = (best[i][keep], values[keep])
    return table


def _for_you_scores(model, seeds: list[dict[int, float]], fallback: np.ndarray) -> np.ndarray:
    n_items = len(fallback)
    needed = np.array(sorted({row for user in seeds for row in user}), dtype=np.int64)
    table = _neighbour_table(model, needed, n_items)
    scores = np.zeros((len(seeds), n_items), dtype=np.float32)
    for u, user in enumerate(seeds):
        for row, weight in user.items():
            ids, values = table[row]
            np.add.at(scores[u], ids, weight * values)
        if not scores[u].any():
            scores[u] = fallback
    return scores


def _history_knn_scores(knn, histories_rows: list[np.ndarray], n_items: int) -> np.ndarray:
    scores = np.zeros((len(histories_rows), n_items), dtype=np.float32)
    for u, rows in enumerate(histories_rows):
        if len(rows):
            scores[u] = np.asarray(knn.scores(rows), dtype=np.float32).sum(axis=0)
    return scores


def _row(recommended: np.ndarray, target_rows: np.ndarray, n_items: int) -> tuple[dict, np.ndarray]:
    metrics = metrics_of(recommended, target_rows, n_items)
    hit, ndcg = per_user(recommended, target_rows)
    return metrics | {"hit_rate_ci": bootstrap_interval(hit), "ndcg_ci": bootstrap_interval(ndcg)}, hit


def for_you_rows(evaluator: Evaluator, split: Split) -> dict:
    """{row name: metrics} and for-you's paired HitRate differences (`vs`). Call after `evaluator.run(split)`."""
    positions, n_items = evaluator.positions, len(evaluator.items)
    bases = evaluator.bases
    if "most-popular" not in bases or "item-kNN cosine" not in bases:
        return {"skipped": "the baselines were not trained on this split"}
    served = evaluator.models(split.train, (SERVED,), reuse=bases)[SERVED]
    seen = seen_matrix(split.train, positions, split.users)
    target_rows = positions.get_indexer(split.targets)
    popular = np.asarray(bases["most-popular"].scores(np.zeros(1, dtype=np.int64))[0], dtype=np.float32)
    user_histories = histories(split.train, split.users)
    history_rows = [np.unique(positions.get_indexer([e.item_id for e in h])) for h in user_histories]
    history_rows = [rows[rows >= 0] for rows in history_rows]
    scored = {FOR_YOU: _for_you_scores(served, [_seeds(h, positions) for h in user_histories], popular),
              POPULAR: np.tile(popular, (len(split), 1)),
              HISTORY_KNN: _history_knn_scores(bases["item-kNN cosine"], history_rows, n_items)}
    table, hits = {}, {}
    for name, scores in scored.items():
        scores[seen.nonzero()] = -np.inf
        table[name], hits[name] = _row(top_k(scores), target_rows, n_items)
    table["vs"] = {peer: {"difference": round(float((hits[FOR_YOU] - hits[peer]).mean()), 4),
                          "ci": bootstrap_interval(hits[FOR_YOU] - hits[peer])} for peer in (POPULAR, HISTORY_KNN)}
    return table


def format_for_you(rows: dict) -> list[str]:
    """The markdown lines `format_table` appends."""
    if "skipped" in rows:
        return ["", f"for-you evaluation skipped: {rows['skipped']}"]
    lines = ["", f"| for-you (next item after the split) | HitRate@{K} | 95% CI | NDCG@{K} | 95% CI |",
             "|---|---:|---|---:|---|"]
    for name in ROWS:
        m = rows[name]
        lines.append(f"| {name} | {m['hit_rate']:.4f} | [{m['hit_rate_ci'][0]:.3f}, {m['hit_rate_ci'][1]:.3f}] "
                     f"| {m['ndcg']:.4f} | [{m['ndcg_ci'][0]:.3f}, {m['ndcg_ci'][1]:.3f}] |")
    lines += [f"| for-you minus {peer} | {d['difference']:+.4f} | [{d['ci'][0]:+.3f}, {d['ci'][1]:+.3f}] | | |"
              for peer, d in rows["vs"].items()]
    return lines
