"""Request and response bodies of the HTTP API (pydantic v2), shared by the routes and the OpenAPI docs.

Positions are 1-based like VCF POS; REF starts at ``pos``. Validation errors become 422 responses whose
``detail[*].loc`` names the field (``["body", "variants", 0, "alt"]``) so a caller can fix it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from raygen.provenance import display_name  # noqa: F401 - re-exported: the service's callers import it here

#: Bases a scorable allele may hold (upper or lower case); symbolic alleles cannot be scored.
ALLELE_PATTERN = r"^[ACGTNacgtn]+$"
#: Normalization also takes multi-allelic ALT lists (``A,T``), ``*`` and symbolic alleles, as bcftools does.
NORM_ALT_PATTERN = r"^[^\s]+$"
CHROM_PATTERN = r"^[^\s]+$"

OnInvalid = Literal["reject", "skip"]


class VariantIn(BaseModel):
    """One variant to score: 1-based ``pos``, REF starting there, one ALT of A/C/G/T/N bases."""

    model_config = ConfigDict(extra="forbid")

    chrom: str = Field(min_length=1, max_length=256, pattern=CHROM_PATTERN, examples=["chr1"],
                       description="contig name as in the reference FASTA")
    pos: int = Field(ge=1, le=2**31 - 1, strict=True, examples=[1000], description="1-based position of REF's first base")
    ref: str = Field(min_length=1, max_length=1000, pattern=ALLELE_PATTERN, examples=["A"],
                     description="reference allele (A/C/G/T/N); must match the reference FASTA")
    alt: str = Field(min_length=1, max_length=1000, pattern=ALLELE_PATTERN, examples=["G"],
                     description="one alternate allele (A/C/G/T/N); split multi-allelic sites into one entry per ALT")


class ScoreRequest(BaseModel):
    """``POST /v1/score`` JSON body. A small VCF text body (``Content-Type: text/plain``) is also accepted."""

    model_config = ConfigDict(extra="forbid")

    variants: list[VariantIn] = Field(min_length=1, description="variants to score (at most the server's "
                                      "max_variants_per_request; more gives 413)")
    model: str | None = Field(default=None, max_length=256, examples=["spliceai"],
                              description="which served model scores (a name GET /v1/models lists); default: "
                              "the server's first --model")


class SpliceAIEntryOut(BaseModel):
    """One ALT x gene entry of SpliceAI 1.3.1 (the fields of its INFO ``SpliceAI=...``); scores null where the
    release writes ``.`` (REF and ALT both longer than one base)."""

    ALLELE: str
    SYMBOL: str
    DS_AG: float | None = Field(description="delta score, acceptor gain (0..1, unrounded)")
    DS_AL: float | None = Field(description="delta score, acceptor loss")
    DS_DG: float | None = Field(description="delta score, donor gain")
    DS_DL: float | None = Field(description="delta score, donor loss")
    DP_AG: int | None = Field(description="position of the acceptor gain relative to POS, bases")
    DP_AL: int | None
    DP_DG: int | None
    DP_DL: int | None
    info: str = Field(description="the entry as the release writes it in INFO (2-decimal scores), e.g. "
                      "C|DEFB125|0.00|0.00|0.00|0.01|6|7|-21|6")


class ExplainRequest(VariantIn):
    """``POST /v1/explain``: one variant, the model, and for a language model how many bases each side to
    mutate (default: the server's ``ism_flank``, at most ``ism_max_flank``)."""

    flank: int | None = Field(None, ge=1, le=10_000, description="bases each side of POS mutated to every other base")
    model: str | None = Field(default=None, max_length=256, examples=["spliceai"],
                              description="which served model explains (a name GET /v1/models lists); default: the "
                              "first --model. SpliceAI answers with its REF/ALT splice-site tracks instead of the map")


class ScoreResultOut(BaseModel):
    """One scored variant, in the order of the request."""

    chrom: str
    pos: int
    ref: str
    alt: str
    llr: float | None = Field(default=None, description="log P(alt) - log P(ref) under a language model "
                              "(natural log); null when skipped or for SpliceAI")
    prob: float | None = Field(default=None, description="calibrated P(effect) from a fine-tuned head; null "
                               "without a head or for non-SNVs")
    skip_reason: str | None = Field(default=None, description="why no score: ref_mismatch, unknown_contig, "
                                    "symbolic_allele, non_acgtn, too_long, no_gene, near_contig_end, ...")
    spliceai: list[SpliceAIEntryOut] | None = Field(default=None, description="SpliceAI: one entry per gene "
                                                    "whose transcript holds the variant; null for a language model")


class ScoreResponse(BaseModel):
    results: list[ScoreResultOut]
    model: dict[str, Any] = Field(description="the model that scored: name, revision, kind, scheme, window, "
                                  "score definition, licence where one applies")


class NormalizeVariantIn(BaseModel):
    """One VCF record to normalize: ``alt`` may be a comma-separated multi-allelic list, like VCF ALT."""

    model_config = ConfigDict(extra="forbid")

    chrom: str = Field(min_length=1, max_length=256, pattern=CHROM_PATTERN, examples=["chr1"])
    pos: int = Field(ge=1, le=2**31 - 1, strict=True, examples=[1000])
    ref: str = Field(min_length=1, max_length=10_000, pattern=NORM_ALT_PATTERN, examples=["CA"])
    alt: str = Field(min_length=1, max_length=10_000, pattern=NORM_ALT_PATTERN, examples=["C"])


class NormalizeRequest(BaseModel):
    """``POST /v1/normalize`` JSON body (a small VCF text body is also accepted)."""

    model_config = ConfigDict(extra="forbid")

    variants: list[NormalizeVariantIn] = Field(min_length=1)


class NormalizeResultOut(BaseModel):
    """A variant after ``bcftools norm -f REF`` left-alignment and trimming (no splitting)."""

    chrom: str
    pos: int
    ref: str
    alt: str = Field(description="comma-separated ALT alleles, as in VCF")
    changed: bool = Field(description="whether position or alleles differ from the input")
    input: NormalizeVariantIn
    error: str | None = Field(default=None, description="why the record could not be normalized "
                              "(only with on_invalid=skip; else the request gets 422)")


class NormalizeResponse(BaseModel):
    results: list[NormalizeResultOut]


class CallRequest(BaseModel):
    """``POST /v1/call`` body: call variants in one region of a BAM the server may read (``--data-dir``)."""

    model_config = ConfigDict(extra="forbid")

    bam: str = Field(min_length=1, max_length=4096, examples=["NA12878.chr20.bam"],
                     description="BAM/CRAM path: absolute, or relative to a server data directory; paths outside "
                     "those directories, `..` and symlinks leading out are refused (403)")
    region: str = Field(min_length=1, max_length=256, examples=["chr20:10000000-10010000"],
                        description="CHROM:START-END, 1-based inclusive (at most the server's max_call_bp)")
    format: Literal["json", "vcf"] = Field("json", description="json: calls as objects; vcf: VCF 4.2 text "
                                           "(text/plain) with the same header as `raygen call`")
    pass_only: bool = Field(False, description="leave out RefCall and LowQual candidates")


class CallOut(BaseModel):
    """One biallelic call, normalized (left-aligned, trimmed), as ``raygen call`` writes it."""

    chrom: str
    pos: int = Field(description="1-based VCF POS")
    ref: str
    alt: str
    gt: str = Field(description="genotype, e.g. 0/1")
    gq: int
    pl: list[int]
    dp: int
    ad: list[int]
    vaf: float
    qual: float
    filter: str = Field(description="PASS, RefCall or LowQual")


class CallResponse(BaseModel):
    bam: str
    region: str = Field(description="the called region, CHROM:START-END (1-based inclusive)")
    model: str = Field(description="classical or the caller model directory")
    counts: dict[str, int] = Field(description="calls per FILTER value")
    seconds: float
    calls: list[CallOut]
