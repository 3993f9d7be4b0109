"""``seqtk serve``: trained checkpoints behind an HTTP API with dynamic batching, metrics and a web page.

The stack is FastAPI on Starlette under uvicorn (``pip install 'seqtk[serve]'``): :mod:`seqtk.serve.app` builds
the routes, :mod:`seqtk.serve.batcher` turns concurrent requests into batches, :mod:`seqtk.serve.server` runs it.
"""
