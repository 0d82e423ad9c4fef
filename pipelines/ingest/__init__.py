"""Per-file ingestion stages: exclude, map, validate, de-identify, stage. No Dagster here."""
