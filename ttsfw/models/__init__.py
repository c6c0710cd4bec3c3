"""Neural models: acoustic models, vocoders, denoisers."""
