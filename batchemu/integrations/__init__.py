"""Glue AWS itself provides between Batch and other services (logs, events, the shared endpoint)."""
