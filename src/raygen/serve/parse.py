"""Request parsing for the HTTP API and the UI: JSON and small VCF-text bodies -> validated variants, every
problem located (``body.variants.<i>.<field>``, ``body.line.<n>.<field>``), and the REF check against the
reference. No Ray, no FastAPI: plain functions over str, tested on their own.

Positions are 1-based (VCF POS) at this API; ``Reference.fetch`` underneath is 0-based half-open.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ValidationError

from raygen.scoring.windows import ref_mismatch
from raygen.variant import Variant

# "chr1:1000 A>G", "chr1:1000:A:G", "chr1-1000-A-G", "chr1 1000 A G", "chr1:1000 A/G"
_VARIANT_TEXT = re.compile(r"^\s*(\S+?)[\s:_-]+(\d[\d,]*)[\s:_-]+([A-Za-z]+)\s*(?:>|/|:|-|_|\s)\s*([A-Za-z,*<>]+)\s*$")


@dataclass(frozen=True)
class FieldError:
    """One problem with a request, located like pydantic's errors (``loc`` starts with ``"body"``)."""

    loc: tuple[str | int, ...]
    msg: str
    type: str = "value_error"

    def as_dict(self) -> dict:
        return {"loc": list(self.loc), "msg": self.msg, "type": self.type}

    def line(self) -> str:
        parts = [str(p) for p in self.loc if p != "body"]
        where = ".".join(parts).replace("line.", "line ") or "body"
        return f"{where}: {self.msg}"


class RequestInvalid(Exception):
    """A request that cannot be served as sent (422): carries every problem found, not just the first."""

    def __init__(self, errors: Sequence[FieldError]):
        self.errors = list(errors)
        first = self.errors[0].line() if self.errors else "invalid request"
        more = f" (and {len(self.errors) - 1} more problem(s))" if len(self.errors) > 1 else ""
        super().__init__(first + more)


def pydantic_errors(exc: ValidationError, prefix: tuple[str | int, ...] = ("body",)) -> list[FieldError]:
    """pydantic's errors as :class:`FieldError`s, locations prefixed (``body`` by default)."""
    out = []
    for e in exc.errors(include_url=False):
        msg = e["msg"]
        if e["type"] == "string_pattern_mismatch" and e["loc"] and e["loc"][-1] in ("ref", "alt"):
            msg = f"{msg}: alleles must be A, C, G, T or N bases (symbolic alleles such as <DEL> cannot be scored)"
        out.append(FieldError(prefix + tuple(e["loc"]), msg, e["type"]))
    return out


def parse_vcf_text(text: str, *, split_alts: bool) -> list[tuple[int, dict]]:
    """Records of a small VCF text body as ``(line number, {chrom, pos, ref, alt})``.

    Header lines (``#``) and blank lines are skipped. Columns are tab-separated (runs of spaces are
    accepted for hand-typed bodies); CHROM POS ID REF ALT are required, the rest ignored. With
    ``split_alts`` a multi-allelic ALT gives one record per allele (scoring); without, ALT stays as written
    (normalization realigns the alleles of a record jointly, like bcftools). Raises :class:`RequestInvalid`
    naming the line of every malformed record.
    """
    records: list[tuple[int, dict]] = []
    errors: list[FieldError] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r")
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.split("\t") if "\t" in line else line.split()
        if len(cols) < 5:
            errors.append(FieldError(("body", "line", lineno), f"expected at least 5 columns (CHROM POS ID REF ALT), "
                                     f"found {len(cols)}: {line[:80]!r}"))
            continue
        chrom, pos_s, _id, ref, alt = (c.strip() for c in cols[:5])
        try:
            pos = int(pos_s)
        except ValueError:
            errors.append(FieldError(("body", "line", lineno, "pos"), f"POS {pos_s!r} is not an integer"))
            continue
        alts = alt.split(",") if split_alts else [alt]
        for a in alts:
            records.append((lineno, {"chrom": chrom, "pos": pos, "ref": ref, "alt": a}))
    if errors:
        raise RequestInvalid(errors)
    if not records:
        raise RequestInvalid([FieldError(("body",), "no VCF records found (need lines of CHROM POS ID REF ALT)")])
    return records


def validate_items(model: type[BaseModel], items: Sequence[tuple[tuple[str | int, ...], dict]]) -> list:
    """Validate each ``(location, dict)`` with ``model``; raise :class:`RequestInvalid` listing every bad field."""
    out, errors = [], []
    for loc, item in items:
        try:
            out.append(model.model_validate(item))
        except ValidationError as exc:
            errors.extend(pydantic_errors(exc, loc))
    if errors:
        raise RequestInvalid(errors)
    return out


def read_items(body: bytes, content_type: str, model: type[BaseModel], item_model: type[BaseModel],
               split_alts: bool) -> list:
    """Items of a JSON body (``{"variants": [...]}``, validated with ``model``) or of a small VCF text body
    (each record validated with ``item_model``); a body is JSON when its content type says so, or when it has
    no ``text/*`` type and starts with ``{``.

    JSON errors are located as ``body.variants.<i>.<field>``; VCF errors as ``body.line.<n>.<field>``.
    Raises :class:`RequestInvalid` listing every problem.
    """
    text = body.decode("utf-8", errors="replace")
    if "json" in content_type or (not content_type.startswith("text/") and text.lstrip().startswith("{")):
        try:
            return list(model.model_validate_json(body).variants)  # type: ignore[attr-defined]
        except ValidationError as exc:
            raise RequestInvalid(pydantic_errors(exc)) from None
    records = parse_vcf_text(text, split_alts=split_alts)
    return validate_items(item_model, [(("body", "line", n), rec) for n, rec in records])


def unknown_contig(chrom: str, reference) -> str:
    """The message for a contig the served reference lacks: which contigs it has (never where it lives)."""
    known = ", ".join(reference.contigs[:5]) + (", ..." if len(reference.contigs) > 5 else "")
    return f"contig {chrom!r} is not in the reference (it has: {known})"


def reference_errors(variants: Sequence[Variant], locs: Sequence[tuple[str | int, ...]], reference) -> list[FieldError]:
    """Unknown contigs and REF alleles that differ from ``reference`` (a :class:`raygen.io.fasta.Reference`).

    REF is checked with the scorer's own rule (:func:`raygen.scoring.windows.ref_mismatch`: case-insensitive,
    a base facing an ``N`` in the reference is a mismatch), so what passes here is scored, not skipped.
    """
    errors = []
    for v, loc in zip(variants, locs):
        if v.chrom not in reference:
            errors.append(FieldError(loc + ("chrom",), unknown_contig(v.chrom, reference), "unknown_contig"))
            continue
        n = reference.length(v.chrom)
        if v.end0 > n:
            errors.append(FieldError(loc + ("pos",), f"{v.chrom}:{v.pos} with REF of {len(v.ref)} bp runs past the "
                                     f"end of the contig ({n} bp)", "out_of_range"))
            continue
        seq = reference.fetch(v.chrom, v.start0, v.end0)
        if ref_mismatch(v.ref, seq):
            errors.append(FieldError(loc + ("ref",), f"REF {v.ref!r} does not match the reference {seq!r} at "
                                     f"{v.chrom}:{v.pos}", "ref_mismatch"))
    return errors


def parse_variant_text(text: str) -> tuple[str, int, str, str]:
    """``(chrom, pos, ref, alt)`` from a typed variant such as ``chr1:1000 A>G`` or ``chr1-1000-A-G``.

    Raises ValueError with an example of the accepted forms.
    """
    m = _VARIANT_TEXT.match(text or "")
    if not m:
        raise ValueError(f"cannot read {text!r} as a variant; write it as CHROM:POS REF>ALT, e.g. chr1:1000 A>G")
    chrom, pos, ref, alt = m.groups()
    return chrom, int(pos.replace(",", "")), ref.upper(), alt.upper()
