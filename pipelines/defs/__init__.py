"""Dagster wiring: resources, assets with their checks, jobs and sensors. Thin: the work lives elsewhere."""
