"""Provenance of every result raygen writes: what produced it, from what, with which command.

A CLIA-style lab logs, for every result, the software version, the model (id, revision, weights checksum,
licence), the reference (file and checksum), the annotation sources (file, date, checksum) and the exact
command. :class:`Provenance` is that record, built once per run and written in three places by the code
that owns each output:

- VCF headers: one ``##raygen_provenance=<...>`` line per run (:func:`stamp_header`, called by
  :func:`raygen.io.vcf.write_vcf`); earlier runs' lines are kept, so a scored-then-annotated file carries
  its whole history, as ``##bcftools_*Command`` lines do;
- Parquet schema metadata: ``raygen_provenance`` (JSON list of runs, oldest first), by
  :func:`raygen.io.parquet.write_parquet`;
- HTTP responses of the service: ``X-Raygen-Model`` and ``X-Raygen-Reference`` (:meth:`Provenance.http_headers`).

Checksums are SHA-256 of the file bytes. Hashing a whole genome takes seconds, so checksums are cached in
``$RAYGEN_CACHE/checksums.json`` keyed by (absolute path, size, modification time): a changed file is
hashed again.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import shlex
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from raygen import __version__
from raygen.io.header import VcfHeader, parse_structured

#: Meta-line key of a run in VCF headers, and schema-metadata key in Parquet files.
META_KEY = "raygen_provenance"
PARQUET_KEY = b"raygen_provenance"
#: Weight files whose bytes identify a model directory (hashed together, in name order).
WEIGHT_GLOBS = ("*.safetensors", "*.bin", "*.h5", "*.pt", "*.onnx")
_CHUNK = 1 << 22

_command: list[str] | None = None


def cache_dir() -> Path:
    """raygen's cache directory (``$RAYGEN_CACHE``, default ``~/.cache/raygen``)."""
    return Path(os.environ.get("RAYGEN_CACHE", Path.home() / ".cache" / "raygen"))


def git_commit() -> str:
    """The raygen source tree's git commit (with ``-dirty`` if modified), or ``unknown`` (an installed wheel)."""
    try:
        root = Path(__file__).resolve().parents[2]
        out = subprocess.run(["git", "-C", str(root), "describe", "--always", "--dirty", "--abbrev=12"],
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def set_command(argv: list[str]) -> None:
    """Record the command line of this process (the CLI calls it with ``["raygen", *args]``)."""
    global _command
    _command = list(argv)


def command_line() -> str:
    """The exact command of this run, shell-quoted (what :func:`set_command` recorded, else ``sys.argv``)."""
    argv = _command if _command is not None else sys.argv
    return shlex.join(argv)


def _checksum_cache() -> Path:
    return cache_dir() / "checksums.json"


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes (cached by absolute path, size and mtime; see the module docstring)."""
    p = Path(path).resolve()
    st = p.stat()
    key = f"{p}|{st.st_size}|{st.st_mtime_ns}"
    cache = _checksum_cache()
    try:
        known = json.loads(cache.read_text())
    except (OSError, ValueError):
        known = {}
    if key in known:
        return known[key]
    h = hashlib.sha256()
    with open(p, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    digest = h.hexdigest()
    try:  # a cache we cannot write only costs the next run a re-hash
        cache.parent.mkdir(parents=True, exist_ok=True)
        known = {k: v for k, v in known.items() if not k.startswith(f"{p}|")}
        known[key] = digest
        tmp = cache.with_name(f".{cache.name}.{os.getpid()}")
        tmp.write_text(json.dumps(known))
        os.replace(tmp, cache)
    except OSError:
        pass
    return digest


def path_sha256(path: str | os.PathLike[str]) -> str:
    """:func:`file_sha256` of a file; of a directory (a Parquet dataset), SHA-256 over its files' ``relpath
    sha256`` lines in path order."""
    p = Path(path)
    if not p.is_dir():
        return file_sha256(p)
    files = sorted(f for f in p.rglob("*") if f.is_file())
    return hashlib.sha256("".join(f"{f.relative_to(p)} {file_sha256(f)}\n" for f in files).encode()).hexdigest()


def _licence(model_dir: Path) -> str:
    """The licence a model directory declares: its card's ``license:`` front matter, else ``config.json``."""
    card = model_dir / "README.md"
    if card.is_file():
        lines = card.read_text(encoding="utf-8", errors="replace").splitlines()
        if lines and lines[0].strip() == "---":
            for line in lines[1:40]:
                if line.strip() == "---":
                    break
                key, _, value = line.partition(":")
                if key.strip().lower() in ("license", "licence") and value.strip():
                    return value.strip()
    try:
        cfg = json.loads((model_dir / "config.json").read_text())
        if cfg.get("license"):
            return str(cfg["license"])
    except (OSError, ValueError):
        pass
    return "not stated"


def display_name(name_or_path: str) -> str:
    """What users are shown for a model or file: a local path's last component (``/srv/models/raygen-small`` ->
    ``raygen-small``; never a path under someone's home directory), a hub id or ``classical`` as it is. Its
    bytes are identified by the SHA-256 next to it (:func:`model_record`, :func:`reference_record`)."""
    p = Path(name_or_path)
    if p.exists():
        return p.resolve().name  # a link (demo_out/model) is called by what it points at
    return p.name if p.is_absolute() else name_or_path


def display_path(path: str | os.PathLike[str]) -> str:
    """A local file or folder as users are shown it in logs: relative to the working directory when it lies
    under it (``demo_out/scored.vcf.gz``), ``~/...`` under the home directory, else as given. Symlinks are
    not followed (``demo_out/model`` stays that)."""
    a = Path(os.path.abspath(path))
    for base, prefix in ((Path.cwd(), ""), (Path.home(), "~/")):
        try:
            return prefix + str(a.relative_to(base))
        except ValueError:
            continue
    return str(path)


def model_record(model: str, revision: str | None = None, *, licence: str | None = None,
                 display: str | None = None) -> dict[str, str]:
    """``{"id", "revision", "sha256", "licence"}`` of a model: a local directory (its weight files hashed
    together in name order: SHA-256 over ``name sha256`` lines), a single weights file, or a hub id (no
    local bytes to hash: ``sha256`` says so and the revision pins it). The id is ``display`` or
    :func:`display_name` (a directory's name, never its path: the checksum identifies the bytes)."""
    p = Path(model).expanduser()
    record = {"id": display or display_name(model), "revision": revision or "", "sha256": "", "licence": licence or ""}
    if p.is_dir():
        files = sorted({f for g in WEIGHT_GLOBS for f in p.glob(g) if f.is_file()})
        if files:
            lines = "".join(f"{f.name} {file_sha256(f)}\n" for f in files)
            record["sha256"] = (file_sha256(files[0]) if len(files) == 1
                                else hashlib.sha256(lines.encode()).hexdigest())
        record["licence"] = licence or _licence(p)
    elif p.is_file():
        record["sha256"] = file_sha256(p)
    else:
        record["sha256"] = "hub model: no local file (pinned by revision)"
    record["licence"] = record["licence"] or "not stated"
    return record


def reference_record(path: str | os.PathLike[str] | None) -> dict[str, str]:
    """``{"name", "sha256"}`` of a reference FASTA (empty when the run used none)."""
    if not path:
        return {}
    return {"name": Path(path).name, "sha256": file_sha256(path)}


def source_record(name: str, path: str | os.PathLike[str], fields: list[str], date: str | None = None
                  ) -> dict[str, str]:
    """An annotation source (a file or a Parquet directory): ``{"name", "file", "sha256", "date", "fields"}``;
    ``date`` is what the caller read (a ``##fileDate`` line), else the modification day."""
    p = Path(path)
    when = date or _dt.datetime.fromtimestamp(p.stat().st_mtime, _dt.timezone.utc).strftime("%Y-%m-%d")
    return {"name": name, "file": p.name, "sha256": path_sha256(p), "date": when, "fields": ",".join(fields)}


@dataclass
class Provenance:
    """One run: raygen version and commit, date (UTC), the command, models, reference and sources."""

    command: str = field(default_factory=command_line)
    version: str = __version__
    commit: str = field(default_factory=git_commit)
    date: str = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    models: list[dict[str, str]] = field(default_factory=list)
    reference: dict[str, str] = field(default_factory=dict)
    sources: list[dict[str, str]] = field(default_factory=list)

    @classmethod
    def for_run(cls, *, models: list[dict[str, str]] | None = None, reference: str | os.PathLike[str] | None = None,
                sources: list[dict[str, str]] | None = None) -> "Provenance":
        """This process's run, with the reference's checksum computed (or taken from the cache)."""
        return cls(models=list(models or []), reference=reference_record(reference), sources=list(sources or []))

    # ---- text forms -----------------------------------------------------------------------------------
    def model_text(self) -> str:
        """``id@revision sha256:... licence:...`` per model, ``; ``-separated (the X-Raygen-Model header)."""
        return "; ".join(f"{m['id']}{'@' + m['revision'] if m.get('revision') else ''} sha256:{m.get('sha256', '')} "
                         f"licence:{m.get('licence', 'not stated')}" for m in self.models)

    def reference_text(self) -> str:
        """``name sha256:...`` (the X-Raygen-Reference header)."""
        r = self.reference
        return f"{r['name']} sha256:{r['sha256']}" if r else ""

    def sources_text(self) -> str:
        return "; ".join(f"{s['name']}={s['file']} date:{s['date']} sha256:{s['sha256']} fields:{s['fields']}"
                         for s in self.sources)

    def meta_line(self) -> str:
        """The ``##raygen_provenance=<...>`` header line of this run (quoted values, VCF structured form)."""
        items = {"Version": self.version, "Commit": self.commit, "Date": self.date, "Command": self.command,
                 "Models": self.model_text(), "Reference": self.reference_text(), "Sources": self.sources_text(),
                 "JSON": json.dumps(self.as_dict(), separators=(",", ":"), sort_keys=True)}
        body = ",".join(f"{k}={_quote(v)}" for k, v in items.items())
        return f"##{META_KEY}=<{body}>"

    def as_dict(self) -> dict:
        return asdict(self)

    def http_headers(self) -> dict[str, str]:
        """``X-Raygen-Model`` and ``X-Raygen-Reference`` (latin-1 safe: non-ASCII becomes ``?``)."""
        out = {"X-Raygen-Model": self.model_text(), "X-Raygen-Reference": self.reference_text()}
        return {k: v.encode("ascii", "replace").decode() for k, v in out.items() if v}


def _quote(text: str) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def stamp_header(header: VcfHeader, prov: Provenance | None) -> VcfHeader:
    """A copy of ``header`` with ``prov``'s line appended (``header`` itself when ``prov`` is None)."""
    if prov is None:
        return header
    out = header.copy()
    out.add_meta(prov.meta_line())
    return out


def header_history(header: VcfHeader) -> list[dict]:
    """Every run recorded in a header, oldest first, as :meth:`Provenance.as_dict` dictionaries."""
    runs = []
    prefix = f"##{META_KEY}=<"
    for line in header.meta:
        if line.startswith(prefix) and line.endswith(">"):
            fields = parse_structured(line[len(prefix):-1])
            try:
                runs.append(json.loads(fields.get("JSON", "")))
            except ValueError:
                runs.append({k.lower(): v for k, v in fields.items()})
    return runs


def parquet_metadata(header: VcfHeader) -> dict[bytes, bytes]:
    """The Parquet schema-metadata entry holding every run of ``header`` (JSON list, oldest first)."""
    return {PARQUET_KEY: json.dumps(header_history(header)).encode()}
