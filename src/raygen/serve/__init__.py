"""HTTP service: FastAPI ingress + batched scorer on Ray Serve, Gradio UI at /ui.

Modules, one job each: :mod:`~raygen.serve.app` (the application graph, ``build_app`` for serve configs),
:mod:`~raygen.serve.service` (the foreground service: ``run_service``), :mod:`~raygen.serve.deployments`
(Scorer, Caller, Ingress), :mod:`~raygen.serve.routes` (the FastAPI factory), :mod:`~raygen.serve.backend`
(the client the routes and UI call), :mod:`~raygen.serve.parse` (request bodies -> variants),
:mod:`~raygen.serve.normalize`, :mod:`~raygen.serve.calls` (BAM paths, pileups), :mod:`~raygen.serve.ui`
and :mod:`~raygen.serve.figures` (the Gradio UI and its pictures), :mod:`~raygen.serve.ism`,
:mod:`~raygen.serve.schemas`, :mod:`~raygen.serve.auth`, :mod:`~raygen.serve.logs`.

``raygen demo`` and other drivers start it with :func:`run_service`::

    from raygen.serve import run_service
    urls = run_service(model_dir, "ref.fa", host="127.0.0.1", port=8000, window=128, block=True)
"""

from raygen.serve.app import build_app, build_application
from raygen.serve.options import AppArgs
from raygen.serve.routes import make_app
from raygen.serve.service import run_service, service_urls

__all__ = ["AppArgs", "build_app", "build_application", "make_app", "run_service", "service_urls"]
