"""One module per log or metric format; each registers itself."""
