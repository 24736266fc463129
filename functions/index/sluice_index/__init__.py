"""The index function: writes embedded chunks to Milvus and removes superseded or deleted ones."""
