"""The ingest function: Sluice's public entry for documents."""
