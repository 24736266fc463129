"""The transform function: chunks accepted documents and embeds the chunks."""
