"""The web app: ``neuronarrator serve`` (FastAPI, run by uvicorn on 127.0.0.1).

:func:`create_app` builds the app (routes in :mod:`neuronarrator.serve.app`); :func:`serve_main` runs it.
Jobs and their one worker thread are in :mod:`neuronarrator.serve.jobs`, the streamed upload in
:mod:`neuronarrator.serve.upload`, the HTML in :mod:`neuronarrator.serve.pages`.
"""

from __future__ import annotations

from neuronarrator.serve.app import ServeError, create_app, is_loopback, serve_main

__all__ = ["ServeError", "create_app", "is_loopback", "serve_main"]
