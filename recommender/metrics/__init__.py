"""Panel metrics: impressions and clicks per index version, CTR with confidence, A/B tests between versions.

No Flask here: signing tokens, assigning arms, statistics and the queries; web/services/tracking.py and
web/views/{tracking,metrics}.py translate HTTP into these calls.
"""
