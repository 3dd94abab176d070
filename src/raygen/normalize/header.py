"""What normalization needs from a VCF header: tag Number/Type definitions, contigs, and added lines.

Kept to text so it works on any header the reader hands over (``raygen.io`` VcfHeader.to_text() or raw
lines); ``Number`` is kept as the VCF string (``A``, ``R``, ``G``, ``.`` or an integer).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_DEF = re.compile(r'^##(INFO|FORMAT)=<ID=([^,>]+),Number=([^,>]+),Type=([^,>]+)')
_CONTIG = re.compile(r'^##contig=<ID=([^,>]+)')


@dataclass
class HeaderInfo:
    """Parsed view of a VCF header (meta lines in order plus the ``#CHROM`` line)."""

    meta: list[str]
    columns: list[str]
    info_number: dict[str, str] = field(default_factory=dict)
    info_type: dict[str, str] = field(default_factory=dict)
    format_number: dict[str, str] = field(default_factory=dict)
    format_type: dict[str, str] = field(default_factory=dict)
    contigs: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> "HeaderInfo":
        meta, columns = [], []
        for line in text.splitlines():
            if line.startswith("##"):
                meta.append(line)
            elif line.startswith("#"):
                columns = line[1:].split("\t")
        h = cls(meta=meta, columns=columns or ["CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"])
        for line in meta:
            m = _DEF.match(line)
            if m:
                kind, key, number, typ = m.groups()
                if kind == "INFO":
                    h.info_number[key], h.info_type[key] = number, typ
                else:
                    h.format_number[key], h.format_type[key] = number, typ
                continue
            m = _CONTIG.match(line)
            if m:
                h.contigs.append(m.group(1))
        return h

    @property
    def samples(self) -> list[str]:
        return self.columns[9:]

    def add_meta(self, line: str) -> None:
        """Add a ``##`` line unless one with the same key and ID is present (later definitions win in htslib)."""
        m = re.match(r"^##(\w+)=<ID=([^,>]+)", line)
        if m:
            prefix = f"##{m.group(1)}=<ID={m.group(2)},"
            if any(x.startswith(prefix) for x in self.meta):
                return
        self.meta.append(line)
        d = _DEF.match(line)
        if d:
            kind, key, number, typ = d.groups()
            (self.info_number if kind == "INFO" else self.format_number)[key] = number
            (self.info_type if kind == "INFO" else self.format_type)[key] = typ

    def to_text(self) -> str:
        return "\n".join([*self.meta, "#" + "\t".join(self.columns)]) + "\n"
