"""Text frontends."""
