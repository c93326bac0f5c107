"""The admin cards stay true without a reload (issue 27 items 1 and 6): every card that depends on the served
version or the store refreshes when a job ends, the action's notice becomes the job's outcome, a fresh install
claims no catalog change, and the job list says when, how long, what started a job and how it ended."""

from __future__ import annotations

import html
import io
import re
import uuid

import pytest

from tests import test_admin as admin_fixtures
from tests.test_admin import HX, csrf_from, text

# The admin tests' app (fakeredis queue, in-memory Celery, a data dir of its own) and signed-in browser.
data_dir, admin_app, queue = admin_fixtures.data_dir, admin_fixtures.admin_app, admin_fixtures.queue
browser, signed_in = admin_fixtures.browser, admin_fixtures.signed_in


def section(body: str, section_id: str) -> str:
    match = re.search(rf'<section id="{section_id}"[^>]*>', body)
    assert match, f"no #{section_id} on the page"
    return match.group(0)


@pytest.mark.parametrize("card, event", [("index-card", "index-changed"), ("store-card", "index-changed"),
                                         ("experiment-card", "index-changed"), ("experiment-card", "served-changed"),
                                         ("embed", "served-changed")])
def test_every_card_that_depends_on_the_served_version_or_the_store_refreshes_by_itself(signed_in, card, event):
    opening = section(text(signed_in.get("/admin")), card)
    assert re.search(rf'hx-trigger="[^"]*{event} from:body', opening), opening
    refreshed = signed_in.get(re.search(r'hx-get="([^"]+)"', opening).group(1), headers=HX)
    assert refreshed.status_code == 200
    assert f'<section id="{card}"' in text(refreshed) and "<html" not in text(refreshed)


def test_the_index_card_tells_the_other_cards_when_the_served_version_changed(signed_in):
    card = text(signed_in.get("/admin/index-card", headers=HX))
    own = html.unescape(re.search(r'<section id="index-card"[^>]*hx-get="([^"]+)"', card).group(1))
    assert "HX-Trigger" not in signed_in.get(own, headers=HX).headers, "the same version: nothing to refresh"
    older = signed_in.get("/admin/index-card?shown=an-older-version", headers=HX)
    assert older.headers.get("HX-Trigger") == "served-changed"


def test_a_fresh_install_does_not_claim_the_catalog_changed(signed_in):
    """The served version was built from the data dir's files and the store is still empty."""
    card = html.unescape(text(signed_in.get("/admin/index-card", headers=HX)))
    assert "changed since" not in card
    assert "Restore this version's catalog" not in card
    assert "the store is empty: the first rebuild imports them" in card


def test_the_upload_notice_becomes_the_jobs_outcome(signed_in, queue, celery_app):
    token = csrf_from(signed_in, "/admin")
    files = {"items": (b"item_id,title\n1,One\n2,Two\n", "items.csv")}
    data = {name: (io.BytesIO(content), filename) for name, (content, filename) in files.items()}
    body = text(signed_in.post("/admin/catalog", data={**data, "csrf_token": token}, headers=HX))
    assert "Catalog accepted; building it now." in body
    notice_url = html.unescape(re.search(r'<div class="job-notice" hx-get="([^"]+)"', body).group(1))
    job_id = re.search(r"/admin/jobs/([^?]+)\?", notice_url).group(1)
    assert signed_in.get(notice_url, headers=HX).status_code == 204, "while it runs the notice stays"
    version = f"v-{uuid.uuid4().hex[:8]}"
    celery_app.backend.store_result(job_id, {"index_version": version, "reason": "manual"}, "SUCCESS")
    done = html.unescape(text(signed_in.get(notice_url, headers=HX)))
    assert "building it now" not in done
    assert f"finished: Done: version {version} is served." in done


def test_a_finished_job_shows_its_outcome_times_and_trigger_not_a_full_bar(signed_in, queue, celery_app):
    job_id, _ = queue.request_rebuild()
    version = f"v-{uuid.uuid4().hex[:8]}"
    celery_app.backend.store_result(job_id, {"index_version": version, "reason": "manual"}, "SUCCESS")
    row = html.unescape(text(signed_in.get(f"/admin/jobs/{job_id}", headers=HX)))
    assert "<progress" not in row and "100%" not in row
    assert f"Done: version {version} is served." in row
    assert "Started by you asked for it" in row
    assert re.search(r'class="requested">\d\d \w{3} \d\d:\d\d:\d\d UTC<', row)
    assert re.search(r'class="took">took \d+ s<', row)


def test_a_running_job_names_its_step_in_plain_words(signed_in, queue, celery_app):
    job_id, _ = queue.request_rebuild()
    celery_app.backend.store_result(job_id, {"stage": "neighbours", "progress": 70}, "PROGRESS")
    queue.redis.set(queue.building_key, job_id)
    row = html.unescape(text(signed_in.get(f"/admin/jobs/{job_id}", headers=HX)))
    assert "Now: finding similar items" in row and ">neighbours<" not in row
    assert re.search(r'class="took">running for \d+ s<', row)
    assert 'value="70"' in row
