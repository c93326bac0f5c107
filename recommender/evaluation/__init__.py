"""Offline evaluation: the leave-last-out protocol, the peers, the tuned fusion and the report."""
