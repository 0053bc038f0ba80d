"""The domain: tables, numbering, registry, audit chain, ports and errors (no I/O SDKs)."""
