"""HTTP service: FastAPI ingress + batched scorer on Ray Serve, Gradio UI at /ui (see :mod:`raygen.serve.app`).

``raygen demo`` and other drivers start it with :func:`run_service`::

    from raygen.serve import run_service
    urls = run_service(model_dir, "ref.fa", host="127.0.0.1", port=8000, window=128, block=True)
"""

from raygen.serve.app import AppArgs, build_app, build_application, make_app, run_service, service_urls

__all__ = ["AppArgs", "build_app", "build_application", "make_app", "run_service", "service_urls"]
