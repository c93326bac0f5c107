"""Every limit a request, a catalog or a page is held to, in one place.

The web tier validates against these, the model enforces them, and templates show them (they are
template globals), so a limit is never restated as a literal anywhere else.
"""

K_MIN = 1
K_MAX = 100
K_DEFAULT = 10
K_CHOICES = (5, 10, 20)

ITEM_ID_MAX_CHARS = 200
YEAR_MIN = 0
YEAR_MAX = 3000

QUERY_MAX_CHARS = 200
SEARCH_LIMIT = 20
POPULAR_SHOWN = 12
FILTER_VALUES_MAX = 50
EMBED_HEADING_MAX_CHARS = 120  # the heading a host page may choose for an embedded panel (heading=0: none)
# Uploads refused with 422 are kept so "map columns" can re-submit them: at most this many (oldest go first),
# each for this long; each is at most MAX_UPLOAD_MB, as every upload.
HELD_UPLOADS_MAX = 5
HELD_UPLOAD_SECONDS = 3600

IMAGE_ATTRIBUTES = ("image_url", "image")
IMAGE_SCHEMES = ("http://", "https://")

SECRET_MIN_CHARS = 32
LOGIN_ATTEMPTS = 5
LOGIN_WINDOW_SECONDS = 60
ADMIN_SESSION_SECONDS = 12 * 3600
TRUSTED_PROXIES_MAX = 10

# Tracking: what one client address may count a minute; more is answered as usual but not counted.
TRACKING_RATE_WINDOW_SECONDS = 60
BEACONS_PER_MINUTE = 300
CLICKS_PER_MINUTE = 60

CACHE_MAX_AGE_SECONDS = 60
STALE_WHILE_REVALIDATE_SECONDS = 300
FRAGMENT_CACHE_MAX_BYTES = 32 * 2**20

ITEMS_PER_CALL_MAX = 1000
CATALOG_EXPORT_PAGE_ROWS = 5000  # items read per query when the catalog is exported as CSV
EVENTS_PER_CALL_MAX = 1000
EVENT_TIMESTAMP_MIN = 631_152_000  # 1990-01-01T00:00:00Z: no tracked behaviour is older (MovieLens starts in 1995)
EVENT_TIMESTAMP_MIN_TEXT = "1990-01-01"
ITEMS_BODY_MAX_BYTES = 16 * 2**20
EVENTS_BODY_MAX_BYTES = 2 * 2**20

# Free space a build needs before it writes an index (recommender/neighbours/disk_space.py): Annoy's forest holds
# about twice as many nodes as items and grows its file by 30% while it builds; the neighbour table keeps
# an int32 id and a float32 score per neighbour; the item table and search arrays stay under 1 KiB an item.
INDEX_FOREST_NODES_PER_ITEM = 2.6
INDEX_NODE_HEADER_BYTES = 12
INDEX_OTHER_BYTES_PER_ITEM = 1024
INDEX_SPACE_SLACK_BYTES = 32 * 2**20
REQUEST_HEADER_SECONDS = 20  # a web connection's request headers must be complete this long after it opened
ADMIN_BODY_MAX_BYTES = 64 * 2**10  # the small JSON bodies of rollback, restore and experiment calls
JSON_MAX_DEPTH = 20  # arrays and objects nested in a JSON body; the deepest the API takes is 4
VERSION_LABEL_MAX_CHARS = 60  # an admin's label on an index version (PATCH /api/admin/index/versions/<version>)
PIN_WHY_MAX_CHARS = 200  # the optional "why" of POST /api/admin/index/pin
# A/B tests: each web process re-reads the running experiment at request time once this long has passed since
# its last read, and a start or stop call waits this long after its commit before it answers, so every process
# answers from the new state from the moment the call returns. A database that cannot be reached is re-tried
# after EXPERIMENT_RETRY_SECONDS (meanwhile the process keeps the experiment it knew).
EXPERIMENT_RECHECK_SECONDS = 0.25
EXPERIMENT_RETRY_SECONDS = 1.0
# Every web process reports the version it serves to Redis each time its watcher looks (twice a second), for
# SERVING_REPORT_SECONDS; a call that switches the served version (rollback, publish, promotion) answers once
# every process that reported says the new version, or after SERVED_AGREEMENT_WAIT_SECONDS saying which did not.
SERVING_REPORT_SECONDS = 3.0
SERVED_AGREEMENT_WAIT_SECONDS = 5.0
# Personal lists (for-you, because-you-viewed): each request reads at most this many of the visitor's newest
# events from the store of record, scores through at most FOR_YOU_SEEDS of the items they touched, and shows
# the last BECAUSE_VIEWED_ITEMS items looked at with BECAUSE_VIEWED_SHOWN similar items each.
FOR_YOU_EVENTS_READ = 200
FOR_YOU_SEEDS = 30
FOR_YOU_WHY_TITLES = 2
BECAUSE_VIEWED_ITEMS = 3
BECAUSE_VIEWED_SHOWN = 4
FOR_YOU_HALF_LIFE_DAYS = 14.0  # an event this old counts half as much in for-you as one sent now
PERSONAL_CACHE_MAX_BYTES = 16 * 2**20  # rendered for-you answers per web process, keyed on the visitor's newest event
EVENTS_WATERMARK_RECHECK_SECONDS = 0.5  # how stale a process's "did any event change" may be (for-you's freshness)
# Merchant controls (issue 25): attribute filters (attr.<name>=, min.<name>=, max.<name>=) and rules.
ATTRIBUTE_FILTERS_MAX = 20  # distinct attributes one request may filter on
FEW_VALUES_MAX = 12  # a text attribute with at most this many values gets checkboxes in the filter form
RULES_MAX = 200  # rules stored at once
RULE_ID_MAX_CHARS = 64
RULE_FACTOR_MAX = 100.0  # boost and bury multiply scores by more than 0 and at most this
RULE_CONDITIONS_MAX = 10  # attributes one condition ("when" or "where") may test
RULES_RECHECK_SECONDS = 1.0  # every web process re-reads the rules this long after it last did (well within 2 s)
RULE_BODY_MAX_BYTES = 16 * 2**10
# Panels (issue 24): an event's optional session_id (an order, basket or session); trending's windows and its
# bounded read of the store; bought-together's kept list per item.
SESSION_ID_MAX_CHARS = 128
TRENDING_WINDOW_MIN_SECONDS = 60
TRENDING_WINDOW_MAX_SECONDS = 90 * 86_400
TRENDING_WINDOW_TEXT_MAX_CHARS = 12
TRENDING_QUERY_MAX_ROWS = 200_000  # (item, time slice, type) groups read per refresh at most
TRENDING_STALE_GRACE_SECONDS = 3.0  # counts this much past their refresh are re-read on the request, not served
TRENDING_READ_WAIT_SECONDS = 5.0  # a request waits this long at most for another's re-read of the same window
BOUGHT_TOGETHER_KEPT = 50  # partners kept per item in a version
WORDING_VERSIONS_KEPT = 8  # index versions whose catalog examples (web/services/catalog_wording.py) a process keeps
