"""Synthetic survey exports: fake participants in the real export layouts, for tests, demos and benchmarks."""
