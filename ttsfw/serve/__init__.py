"""The HTTP server (``python -m ttsfw serve``; needs ``pip install 'ttsfw[server]'``).

command.py   the command: config, uvicorn, --workers
app.py       the FastAPI routes and their errors      speech.py   one request, read by a route
batcher.py   dynamic batching in one worker thread    formats.py  WAV / FLAC / PCM streams
metrics.py   Prometheus metrics                       page.html   the web page at /
bench.py     ``python -m ttsfw serve-bench``: the load generator
"""
