"""Declarative study mappings and the pandera models that validate every stage's frame."""
