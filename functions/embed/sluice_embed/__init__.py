"""The embedding endpoint: query embeddings for searchapi, by the pipeline's own model."""
