"""Typo tolerance for title search: which words are close enough, and an index that finds them fast."""
