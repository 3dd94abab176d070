"""Write truth variants as bgzipped, tabix-indexed VCFv4.2 (atomically, byte-reproducibly).

No date or path goes into the header, so the same seed gives the same bytes.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa

from raygen import __version__
from raygen.config import SimulateConfig
from raygen.io.header import VcfHeader
from raygen.io.vcf import write_vcf
from raygen.schema import TEXT_COLUMNS, TEXT_SCHEMA
from raygen.simulate.variants import TruthVariant


def sample_names(n: int) -> list[str]:
    return [f"SAMPLE{i + 1}" for i in range(n)]


def vcf_header(contigs: list[tuple[str, int]], cfg: SimulateConfig, *, denormalized: bool = False) -> str:
    lines = [
        "##fileformat=VCFv4.2",
        f"##source=raygen-simulate {__version__} (seed={cfg.seed}, length={cfg.length}, contigs={cfg.contigs}, "
        f"snv_rate={cfg.snv_rate:g}, indel_rate={cfg.indel_rate:g}, mnp_rate={cfg.mnp_rate:g}, samples={cfg.samples})",
        "##reference=reference.fa",
        f"##raygen_representation={'denormalized (indels right-shifted or padded)' if denormalized else 'normalized (left-aligned, parsimonious)'}",
    ]
    lines += [f"##contig=<ID={name},length={length}>" for name, length in contigs]
    lines += [
        '##INFO=<ID=VT,Number=A,Type=String,Description="Simulated class of each ALT allele: SNV, MNP, INS or DEL">',
        '##INFO=<ID=REPEAT,Number=0,Type=Flag,Description="Indel in a tandem repeat or homopolymer: it has more than '
        'one equivalent position, so left-alignment matters">',
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        "#" + "\t".join(["CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT"]
                        + sample_names(cfg.samples)),
    ]
    return "\n".join(lines) + "\n"


def vcf_line(v: TruthVariant, phased: bool, *, denormalized: bool = False) -> str:
    pos0, ref, alts = v.denorm if (denormalized and v.denorm is not None) else (v.pos0, v.ref, v.alts)
    info = "VT=" + ",".join(v.kinds) + (";REPEAT" if v.repeat else "")
    if phased:
        gts = [f"{a}|{b}" for a, b in v.gt.tolist()]
    else:
        gts = [f"{min(a, b)}/{max(a, b)}" for a, b in v.gt.tolist()]
    return "\t".join([v.chrom, str(pos0 + 1), ".", ref, ",".join(alts), ".", "PASS", info, "GT", *gts]) + "\n"


def truth_table(variants: Iterable[TruthVariant], phased: bool, *, denormalized: bool = False) -> pa.Table:
    """The truth records as a VCF text table (:data:`raygen.schema.TEXT_SCHEMA`; LINE null)."""
    cols: dict[str, list] = {name: [] for name in TEXT_COLUMNS}
    for v in variants:
        for name, value in zip(TEXT_COLUMNS, vcf_line(v, phased, denormalized=denormalized).rstrip("\n").split("\t", 9)):
            cols[name].append(value)
    cols["POS"] = [int(p) for p in cols["POS"]]
    n = len(cols["POS"])
    return pa.table({**cols, "LINE": [None] * n}, schema=TEXT_SCHEMA)


def write_truth_vcf(
    path: str | os.PathLike[str],
    variants: Iterable[TruthVariant],
    contigs: list[tuple[str, int]],
    cfg: SimulateConfig,
    *,
    denormalized: bool = False,
) -> Path:
    """Write ``variants`` (already sorted by contig order, then position) to ``path`` (.vcf.gz) + ``.tbi``,
    atomically, through :func:`raygen.io.vcf.write_vcf`."""
    header = VcfHeader.from_text(vcf_header(contigs, cfg, denormalized=denormalized))
    return write_vcf(header, truth_table(variants, cfg.phased, denormalized=denormalized), path)
