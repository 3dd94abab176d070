"""HTTP service: FastAPI ingress + batched scorer on Ray Serve, Gradio UI at /ui.

Modules, one job each: :mod:`~raygen.serve.app` (the application graph, ``build_app`` for serve configs),
:mod:`~raygen.serve.service` (the foreground service: ``run_service``), :mod:`~raygen.serve.deployments`
(Scorer, Caller, Ingress), :mod:`~raygen.serve.routes` (the FastAPI factory), :mod:`~raygen.serve.backend`
(the client the routes and UI call), :mod:`~raygen.serve.parse` (request bodies -> variants),
:mod:`~raygen.serve.normalize`, :mod:`~raygen.serve.calls` (BAM paths, pileups), :mod:`~raygen.serve.ui`
and :mod:`~raygen.serve.figures` (the Gradio UI and its pictures), :mod:`~raygen.serve.ism`,
:mod:`~raygen.serve.schemas`, :mod:`~raygen.serve.auth`, :mod:`~raygen.serve.logs`.

``raygen demo`` and other drivers start it with :func:`run_service`::

    from raygen.config import ServeConfig
    from raygen.serve import run_service
    urls = run_service(ServeConfig(model=model_dir, reference="ref.fa", port=8000), block=True)

The options are one :class:`raygen.config.ServeConfig`; :func:`raygen.serve.options.serve_config` builds it
from a dict of field names (``raygen serve`` flags, a serve config's ``args:``).
"""

from raygen.serve.app import build_app, build_application
from raygen.serve.options import serve_config
from raygen.serve.routes import make_app
from raygen.serve.service import run_service, service_urls

__all__ = ["serve_config", "build_app", "build_application", "make_app", "run_service", "service_urls"]
