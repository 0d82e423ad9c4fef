"""De-identification: keyed pseudonyms, generalisation, and the only place that turns failures into reports."""
