"""DuckDB: table definitions (documented in one place), transactional loads, the public tier and its copy."""
