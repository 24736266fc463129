"""Stores: document records and claim checks in Redis, chunks in Milvus."""
