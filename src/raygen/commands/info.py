"""``raygen info``: versions, Ray resources and whether CUDA is usable."""

from __future__ import annotations

import argparse
import platform

from raygen import __version__

PACKAGES = ("ray", "torch", "pysam", "pyarrow", "transformers", "tokenizers", "gradio", "fastapi", "numpy", "h5py",
            "spliceai")  # spliceai: the wheel whose weights `raygen score --model spliceai` reads


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "info",
        parents=[common],
        help="print versions, Ray resources and CUDA status",
        description="Print raygen's and its dependencies' versions, then connect to Ray (the cluster named by "
        "--address/$RAY_ADDRESS, else an embedded local Ray) and print its CPUs, GPUs and nodes, and "
        "whether torch can use CUDA on this host. Pass --no-ray to skip starting Ray.",
    )
    p.add_argument("--no-ray", action="store_true", help="only print versions and CUDA status")
    p.set_defaults(func=run)


def versions() -> dict[str, str]:
    """Installed versions of raygen's main dependencies ("missing" where not installed)."""
    # here, not at module top: every command's start-up imports this module (the CLI registers them all),
    # and importlib.metadata pulls in the email package
    import importlib.metadata as md

    out = {"raygen": __version__, "python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = "missing"
    return out


def run(args: argparse.Namespace) -> int:
    from raygen.cli import runtime_config
    from raygen.runtime import cuda_status, init_ray

    for name, version in versions().items():
        print(f"{name:<13} {version}")
    print(f"{'cuda':<13} {cuda_status()}")
    if not args.no_ray:
        info = init_ray(runtime_config(args))
        print(f"{'ray mode':<13} {info.mode} ({info.address})")
        print(f"{'ray nodes':<13} {info.nodes}")
        print(f"{'ray CPUs':<13} {info.cpus:g}")
        print(f"{'ray GPUs':<13} {info.gpus:g}")
    return 0
