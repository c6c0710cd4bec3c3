"""A ttsfw plugin to copy: one vocoder (``vocoder=template``)."""
