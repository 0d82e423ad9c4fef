"""Microdosing survey pipeline: landing exports to de-identified DuckDB tables, orchestrated by Dagster."""
