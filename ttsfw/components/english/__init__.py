"""The English text frontend: NVIDIA's english_cleaners and 148-symbol table.

frontend.py (EnglishFrontend and its factory), cleaners.py, numbers.py, transliterate.py,
symbols.py, plugin.py (hooks), conf/frontend/.
"""
