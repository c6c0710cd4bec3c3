"""Griffin-Lim phase recovery: a vocoder without weights.

model.py (GriffinLim and its factory), plugin.py (hooks), conf/vocoder/.
"""
