"""Embed serve_configs/gpu.yaml, verbatim, as the RayService's ``serveConfigV2`` block.

    python cluster/sync_serve_config.py          # rewrite cluster/kuberay/rayservice.yaml in place
    python cluster/sync_serve_config.py --check  # exit 1 if the manifest and the config differ (CI)

The serve config has one home (serve_configs/gpu.yaml, what `serve deploy` takes); KubeRay wants it as a
string inside the RayService, so this copies it there byte for byte, indented under the key. Only that
block changes: the rest of the manifest, comments included, is left as written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SERVE_CONFIG = REPO / "serve_configs" / "gpu.yaml"
RAYSERVICE = REPO / "cluster" / "kuberay" / "rayservice.yaml"
KEY = "serveConfigV2: |"


def _block_bounds(lines: list[str]) -> tuple[int, int, int]:
    """(index of the key line, end index of its block (exclusive), indent of the block's text)."""
    starts = [i for i, line in enumerate(lines) if line.strip() == KEY]
    if len(starts) != 1:
        raise SystemExit(f"{RAYSERVICE}: expected exactly one line '{KEY}', found {len(starts)}")
    start = starts[0]
    indent = len(lines[start]) - len(lines[start].lstrip()) + 2
    end = start + 1
    # The literal block runs while lines are blank or indented deeper than the key.
    while end < len(lines) and (not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip()) >= indent):
        end += 1
    # Trailing blank lines belong to the layout, not to the block.
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    return start, end, indent


def render(manifest: str, serve_config: str) -> str:
    """``manifest`` with its serveConfigV2 block replaced by ``serve_config`` indented under the key."""
    lines = manifest.splitlines(keepends=True)
    start, end, indent = _block_bounds(lines)
    pad = " " * indent
    block = [(pad + line if line.strip() else "\n") for line in serve_config.rstrip("\n").splitlines(keepends=False)]
    block = [b if b.endswith("\n") else b + "\n" for b in block]
    return "".join(lines[: start + 1] + block + lines[end:])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only compare; exit 1 when out of sync")
    args = ap.parse_args(argv)
    if not SERVE_CONFIG.is_file():
        print(f"missing {SERVE_CONFIG}", file=sys.stderr)
        return 1
    current = RAYSERVICE.read_text()
    wanted = render(current, SERVE_CONFIG.read_text())
    if args.check:
        if current != wanted:
            print(f"{RAYSERVICE} is out of sync with {SERVE_CONFIG}: run python cluster/sync_serve_config.py",
                  file=sys.stderr)
            return 1
        return 0
    if current != wanted:
        RAYSERVICE.write_text(wanted)
        print(f"updated {RAYSERVICE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
