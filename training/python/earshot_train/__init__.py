"""earshot training package: data (features + manifest from `earshot features`), models, export."""
