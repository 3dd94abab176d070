"""Call records as VCF text: our writer gives the bytes htslib (pysam) writes for the same records."""

from __future__ import annotations

import random

import pysam

from raygen.calling.pipeline import vcf_header, vcf_text
from raygen.calling.records import CallRecord
from raygen.config import DEFAULTS


def _random_records(rng: random.Random, n: int) -> list[CallRecord]:
    out = []
    for i in range(n):
        ref = rng.choice(["A", "C", "GT", "TAA", "C"])
        alt = rng.choice(["G", "T", ref[0], ref[0] + "CA"]) if len(ref) > 1 else rng.choice(["G", "T", ref + "AC"])
        if alt == ref:
            alt = "N" if ref != "N" else "A"
        r, a = rng.randint(0, 300), rng.randint(0, 300)
        vaf = round(a / (r + a), 4) if r + a else 0.0
        qual = rng.choice([round(rng.uniform(0, 3000), 2), 0.0, 3000.0, round(rng.uniform(0, 1e6), 2), 12345.67])
        out.append(CallRecord("chr1" if i % 3 else "chr2", 100 + 7 * i, ref, alt, rng.choice([(0, 0), (0, 1), (1, 1)]),
                              rng.randint(0, 99), (rng.randint(0, 99999), 0, rng.randint(0, 5000)), r + a, (r, a),
                              vaf, qual, rng.choice(["PASS", "RefCall", "LowQual"])))
    return out


def test_call_vcf_text_equals_htslib(tmp_path):
    rng = random.Random(5)
    records = _random_records(rng, 400)
    contigs = {"chr1": 1_000_000, "chr2": 50_000}
    ours = vcf_text(records, contigs, "NA1", "/ref.fa", "classical", DEFAULTS.call)
    # htslib writes the same header and records (the writer raygen call used before io.vcf.write_vcf)
    hdr = pysam.VariantHeader()
    for line in vcf_header(contigs, "NA1", "/ref.fa", "classical", DEFAULTS.call).meta[2:]:
        if line.startswith("##contig="):
            name, length = line[len("##contig=<ID="):-1].split(",length=")
            hdr.contigs.add(name, length=int(length))
        else:
            hdr.add_line(line)
    hdr.add_sample("NA1")
    path = tmp_path / "h.vcf"
    order = {c: i for i, c in enumerate(contigs)}
    with pysam.VariantFile(str(path), "w", header=hdr) as vf:
        for r in sorted(records, key=lambda r: (order[r.chrom], r.pos, len(r.ref), r.ref, r.alt)):
            v = vf.new_record(contig=r.chrom, start=r.pos - 1, alleles=(r.ref, r.alt), qual=r.qual, filter=r.filter)
            s = v.samples["NA1"]
            s["GT"], s["GQ"], s["DP"], s["AD"], s["VAF"], s["PL"] = r.gt, r.gq, r.dp, r.ad, r.vaf, r.pl
            vf.write(v)
    assert ours == path.read_text()
