"""Sluice's shared library: everything the ingest, transform and index functions have in common."""
