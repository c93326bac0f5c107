"""Checking that the disk can hold an index before a build writes it.

Annoy builds its forest in a memory-mapped file: on a disk that fills up meanwhile a write to a mapped
page kills the worker with SIGBUS, with no exception, no cleanup and the job left "in progress". So a
build estimates what it will write from the item count and the dimensions, and stops with ENOSPC
(the worker reports "could not write the index (the disk is full ...)") before it writes any of it.
"""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

from recommender.limits import (
    INDEX_FOREST_NODES_PER_ITEM,
    INDEX_NODE_HEADER_BYTES,
    INDEX_OTHER_BYTES_PER_ITEM,
    INDEX_SPACE_SLACK_BYTES,
)
from recommender.neighbours.annoy_index import ONE_FOREST_ITEMS
from recommender.neighbours.lookup import MAX_TABLE_WIDTH

FLOAT_BYTES = 4
TABLE_BYTES_PER_NEIGHBOUR = 8  # an int32 row and a float32 score
MIB = 2**20


class NotEnoughSpace(OSError):
    """The disk under the index store cannot hold the index a build is about to write."""


def estimated_index_bytes(n_items: int, dims: int) -> int:
    """Bytes a build of n_items vectors of `dims` dimensions writes at most, candidate forests included."""
    forests = 1 if n_items >= ONE_FOREST_ITEMS else 2
    node = INDEX_NODE_HEADER_BYTES + FLOAT_BYTES * dims
    annoy = forests * INDEX_FOREST_NODES_PER_ITEM * n_items * node
    spilled_vectors = n_items * dims * FLOAT_BYTES
    table = n_items * min(MAX_TABLE_WIDTH, max(n_items - 1, 1)) * TABLE_BYTES_PER_NEIGHBOUR
    return int(annoy + spilled_vectors + table + n_items * INDEX_OTHER_BYTES_PER_ITEM + INDEX_SPACE_SLACK_BYTES)


def free_bytes(directory: Path) -> int:
    return shutil.disk_usage(directory).free


def require_space_for_index(directory: Path, n_items: int, dims: int) -> None:
    """Raise NotEnoughSpace (errno ENOSPC) when `directory`'s disk has less free space than the index needs."""
    needed, free = estimated_index_bytes(n_items, dims), free_bytes(directory)
    if free < needed:
        raise NotEnoughSpace(errno.ENOSPC, f"the index of {n_items:,} items × {dims} dimensions needs about "
                             f"{needed / MIB:,.0f} MiB and {directory} has {free / MIB:,.1f} MiB free")
