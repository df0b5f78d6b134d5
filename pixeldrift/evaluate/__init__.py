"""Evaluation: exact checks and distances for what pixeldrift generates."""
