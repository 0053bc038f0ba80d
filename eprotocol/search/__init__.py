"""Greek full-text search (Whoosh adapter, analysis, indexer)."""
