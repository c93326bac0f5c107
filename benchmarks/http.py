"""Section 1: the web tier under load: gunicorn as the Procfile starts it (2 workers), serving the
demo catalog, with the bench-only floor routes switched on.

Routes take turns within each round, so every route sees the same machine; the targets compare
each round's similar and search routes with the same round's template floor (which renders the
same fragment from fixed results, run between the two), and the median of those ratios is quoted.
"""

from __future__ import annotations

import random
import urllib.request
from dataclasses import dataclass, field
from urllib.parse import quote

from benchmarks.context import Context
from benchmarks.load import HX, LoadResult, client_name, run_load
from benchmarks.report import Row, at_least, at_most, duration, median, times
from benchmarks.search import prefix_query
from benchmarks.server import Web

ROTATING_PATHS = 200
TEMPLATE = "floor: template (similar fragment, fixed results)"
HEALTHZ = "floor: /healthz"
SAME_URL = "similar partial, same URL repeated"
NOT_MODIFIED = "similar partial, 304 on If-None-Match"
# Share of /healthz's req/s each route must reach (issue 13, part 6).
EMBED = "embed fragment"
EMBED_SEARCH = "embed live search"
TRACKING_SHARE = 0.9  # issue 14: the similar panel keeps this share of its req/s when tracking is on
# The tracking row: ABBA runs per round of the plan, of 1-second slices. Many short runs: the shared machine
# slows in bursts of a few seconds, and its median then rests on the runs that no burst fell across.
TRACKING_RUNS_PER_ROUND = 4
TRACKING_SLICE_SECONDS = 1.0
ABBA_SLICES = ("off", "on", "on", "off")  # a drift in the machine's speed falls on both arms
HEALTHZ_SHARES = {"similar partial": 0.6, SAME_URL: 0.9, NOT_MODIFIED: 0.9, "live-search partial": 0.5,
                  EMBED: 0.6, EMBED_SEARCH: 0.5}


@dataclass
class Route:
    name: str
    paths: list[str]
    hx: bool
    extra_headers: dict = field(default_factory=dict)

    @property
    def headers(self) -> dict | None:
        chosen = {**(HX if self.hx else {}), **self.extra_headers}
        return chosen or None

    @property
    def shown_path(self) -> str:
        return self.paths[0] if len(self.paths) == 1 else f"{self.paths[0]} … ({len(self.paths)} paths, cycled)"


def routes(ctx: Context, seed: int = 4) -> list[Route]:
    items = ctx.demo().items
    rng = random.Random(seed)
    ids = rng.sample(items["item_id"].tolist(), ROTATING_PATHS)
    titles = items["title"].astype(str).tolist()
    queries = [prefix_query(titles, rng).text for _ in range(ROTATING_PATHS)]
    return [
        Route("similar partial", [f"/items/{i}/similar?k=10" for i in ids], hx=True),
        Route("live-search partial", [f"/search?q={quote(q)}" for q in queries], hx=True),
        Route(SAME_URL, [f"/items/{ids[0]}/similar?k=10"], hx=True),
        Route(NOT_MODIFIED, [f"/items/{ids[0]}/similar?k=10"], hx=True),  # If-None-Match set once serving
        Route("item page", [f"/items/{i}" for i in ids], hx=False),
        Route("floor: constant", ["/bench/constant"], hx=False),
        Route(TEMPLATE, ["/bench/template"], hx=True),
        Route(HEALTHZ, ["/healthz"], hx=False),
    ] + embed_routes(ids, queries)


def embed_routes(ids: list[str], queries: list[str]) -> list[Route]:
    """The /embed/* fragments as a host page on another origin asks for them (htmx, with an Origin)."""
    origin = {"Origin": "https://shop.example"}
    return [Route(EMBED, [f"/embed/items/{i}/similar?k=10" for i in ids], hx=True, extra_headers=origin),
            Route(EMBED_SEARCH, [f"/embed/search?q={quote(q)}" for q in queries], hx=True, extra_headers=origin)]


def with_etag(base: str, route: Route) -> Route:
    """The 304 route sends the ETag the server gives its path, so every answer is a 304."""
    request = urllib.request.Request(base + route.paths[0], headers=HX)
    with urllib.request.urlopen(request, timeout=30) as response:
        etag = response.headers["ETag"]
    if not etag:
        raise RuntimeError(f"{route.paths[0]} gave no ETag: HTTP caching is off")
    route.extra_headers = {"If-None-Match": etag}
    return route


def check_tracking(tracked: str, untracked: str, path: str) -> None:
    """The two web tiers differ as the row claims: only the tracked one's panel carries the beacon."""
    beacons = []
    for base in (tracked, untracked):
        request = urllib.request.Request(base + path, headers=HX)
        with urllib.request.urlopen(request, timeout=30) as response:
            beacons.append(b"likewise-beacon" in response.read())
    if beacons != [True, False]:
        raise RuntimeError(f"{path}: beacon with tracking on, off = {beacons}, expected [True, False]")


def running_order(chosen: list[Route], round_number: int) -> list[Route]:
    """The template floor between the two routes compared with it, and every other round reversed,
    so a drift in the machine's speed falls on both sides of each comparison."""
    by_name = {r.name: r for r in chosen}
    order = [by_name[name] for name in ("similar partial", TEMPLATE, "live-search partial", HEALTHZ)]
    order += [r for r in chosen if r not in order]
    return order if round_number % 2 == 0 else order[::-1]


def summary(results: list[LoadResult]) -> dict[str, float]:
    return {"rate": median(r.rate for r in results), "p50": median(r.p50 for r in results),
            "p99": median(r.p99 for r in results), "failed": sum(r.failed for r in results),
            "bad_status": sum(r.bad_status for r in results), "socket_errors": sum(r.socket_errors for r in results)}


def route_row(route: Route, results: list[LoadResult]) -> Row:
    s = summary(results)
    shown = (f"{s['rate']:,.0f} req/s · p50 {duration(s['p50'])} · p99 {duration(s['p99'])} · "
             f"{s['bad_status']:.0f} non-2xx, {s['socket_errors']:.0f} socket errors")
    return Row(f"HTTP {route.name} `{route.shown_path}`", shown, values=s)


def target_rows(by_route: dict[str, list[LoadResult]]) -> list[Row]:
    floor = by_route[TEMPLATE]
    rows = []
    for name, share in (("similar partial", 0.7), ("live-search partial", 0.5)):
        ratio = median(r.rate / f.rate for r, f in zip(by_route[name], floor))
        rows.append(at_least(f"HTTP {name} req/s ÷ template floor's req/s", ratio, share, times(ratio),
                             f"≥ {share:.2f}×"))
    for name in ("similar partial", "live-search partial"):
        ratio = median(r.p99 / f.p99 for r, f in zip(by_route[name], floor))
        rows.append(at_most(f"HTTP {name} p99 ÷ template floor's p99", ratio, 2.0, times(ratio), "≤ 2×"))
    return rows


def abba(load_on, load_off, pairs: int) -> dict[str, list[LoadResult]]:
    """`pairs` runs of off, on, on, off slices (each a call of `load_on` or `load_off`): a drift in the
    shared machine's speed falls on both arms."""
    found: dict[str, list[LoadResult]] = {"on": [], "off": []}
    for _ in range(pairs):
        for arm in ABBA_SLICES:
            found[arm].append(load_on() if arm == "on" else load_off())
    return found


def tracking_slices(tracked: str, untracked: str, route: Route, seconds: float, pairs: int) -> dict[str, list]:
    """The similar partial from the tracked web tier and from the untracked one, in short ABBA slices."""
    return abba(lambda: run_load(tracked, route.paths, seconds, route.headers),
                lambda: run_load(untracked, route.paths, seconds, route.headers), pairs)


def pooled_rate(results: list[LoadResult]) -> float:
    return sum(r.requests for r in results) / sum(r.seconds for r in results)


def abba_ratios(found: dict[str, list[LoadResult]]) -> list[float]:
    """Each ABBA run's on ÷ off, its two slices of each arm pooled. Rows quote the median: a run that a
    neighbour on the shared machine slowed on one side moves it little, where it moved a ratio of all
    slices pooled by up to 0.15."""
    per_run = ABBA_SLICES.count("on")
    return [pooled_rate(found["on"][i:i + per_run]) / pooled_rate(found["off"][i:i + per_run])
            for i in range(0, len(found["on"]), per_run)]


def abba_shown(ratios: list[float]) -> str:
    return f"median of {len(ratios)} ABBA runs, {min(ratios):.2f}–{max(ratios):.2f}"


def tracking_row(found: dict[str, list[LoadResult]]) -> Row:
    """The similar panel with tracking on (beacon and signed click links) over the same panel from a
    web tier with LIKEWISE_TRACKING=off: the median of the ABBA runs' ratios (abba_ratios)."""
    on, off = pooled_rate(found["on"]), pooled_rate(found["off"])
    ratios = abba_ratios(found)
    ratio = median(ratios)
    shown = (f"{times(ratio)} ({abba_shown(ratios)}; pooled on {on:,.0f} req/s, off "
             f"{off:,.0f} req/s; {sum(r.failed for arm in found.values() for r in arm)} failed)")
    return at_least("HTTP similar partial req/s, tracking on ÷ tracking off", ratio, TRACKING_SHARE, shown,
                    f"≥ {TRACKING_SHARE:.2f}×")


def healthz_pairs(base: str, chosen: list[Route], seconds: float, pairs: int) -> dict[str, dict[str, list]]:
    """Each route judged against /healthz in short ABBA slices right beside it: a whole round of routes
    lasts long enough for the shared machine's speed to move between a route and the floor."""
    by_name = {r.name: r for r in chosen}
    floor = by_name[HEALTHZ]
    return {name: abba(lambda route=by_name[name]: run_load(base, route.paths, seconds, route.headers),
                       lambda: run_load(base, floor.paths, seconds, floor.headers), pairs)
            for name in HEALTHZ_SHARES if name in by_name}


def healthz_rows(paired: dict[str, dict[str, list[LoadResult]]]) -> list[Row]:
    """Each cached route's req/s over /healthz's, the median of its ABBA runs (abba_ratios): the floor of
    the whole stack."""
    rows = []
    for name, share in HEALTHZ_SHARES.items():
        if name in paired:
            ratios = abba_ratios(paired[name])
            ratio = median(ratios)
            shown = f"{times(ratio)} ({abba_shown(ratios)})"
            rows.append(at_least(f"HTTP {name} req/s ÷ /healthz req/s", ratio, share, shown, f"≥ {share:.2f}×"))
    return rows


def run(ctx: Context) -> list[Row]:
    plan = ctx.plan
    demo = ctx.demo()
    chosen = routes(ctx)
    by_route: dict[str, list[LoadResult]] = {r.name: [] for r in chosen}
    env = {"LIKEWISE_BENCH_ROUTES": 1, "LIKEWISE_EMBED_ORIGINS": "https://shop.example"}
    with Web(demo.data_dir, ctx.logs, workers=2, LIKEWISE_TRACKING="on", **env) as web, \
            Web(demo.data_dir, ctx.logs, workers=2, LIKEWISE_TRACKING="off", **env) as untracked:
        ctx.log(f"http: gunicorn `{' '.join(web.argv[1:])}` (tracking on, and a second one off); warming up")
        with_etag(web.base, next(r for r in chosen if r.name == NOT_MODIFIED))
        check_tracking(web.base, untracked.base, chosen[0].paths[0])
        for route in chosen:
            run_load(web.base, route.paths, 1, route.headers)
        run_load(untracked.base, chosen[0].paths, 1, chosen[0].headers)
        for round_number in range(plan.http_rounds):
            for route in running_order(chosen, round_number):
                result = run_load(web.base, route.paths, plan.http_seconds, route.headers)
                by_route[route.name].append(result)
                ctx.log(f"http: round {round_number + 1}/{plan.http_rounds}, {route.name}: {result.describe()}")
        ctx.log("http: each cached route beside /healthz, ABBA slices")
        beside_floor = healthz_rows(healthz_pairs(web.base, chosen, max(1.0, plan.http_seconds / 2), plan.http_rounds))
        ctx.log("http: similar partial with tracking on and off, ABBA slices")
        tracked = tracking_row(tracking_slices(web.base, untracked.base, chosen[0], TRACKING_SLICE_SECONDS,
                                               TRACKING_RUNS_PER_ROUND * plan.http_rounds))
    ctx.note(f"HTTP load: {client_name()} -t2 -c16 -d{plan.http_seconds:g}s, {plan.http_rounds} round(s) interleaved "
             "across routes; gunicorn as in the Procfile (web/processes/gunicorn_conf.py: 2 threaded workers, "
             "access log on) on loopback (a second, idle while not asked, with LIKEWISE_TRACKING=off for the tracking "
             "row, whose slices alternate off, on, on, off; each route's ratio to /healthz comes from slices "
             "alternating /healthz, route, route, /healthz; both ratios are the median of their ABBA runs' "
             "ratios), load client on the same 2 cores; partials and the template floor are requested with "
             "`HX-Request: true`; answers are served through the per-process fragment cache (warmed by the warm-up "
             "pass) and the 304 route sends the path's ETag in If-None-Match.")
    return [route_row(r, by_route[r.name]) for r in chosen] + target_rows(by_route) + beside_floor + [tracked]
