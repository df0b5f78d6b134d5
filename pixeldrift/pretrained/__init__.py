"""Adapters for models made elsewhere (optional extras; may import transformers or diffusers)."""
