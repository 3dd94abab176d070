"""``raygen score``: zero-shot DNA language-model scores for every ALT of a VCF, on a Ray actor pool."""

from __future__ import annotations

import argparse

from raygen.cli import runtime_config
from raygen.commands import add_ray_choice
from raygen.config import DEFAULTS


DESCRIPTION = """\
Score every ALT allele of a VCF/BCF (or a raygen Parquet dataset) with a DNA language model and write the
records back with INFO RAYGEN_LLR (one score per ALT, natural log; '.' where not scored) and, for records
not fully scored, RAYGEN_SKIP (the reason per ALT). Nothing is dropped.

Scores (window W = --window reference bases from the FASTA, N-padded at contig edges):
  masked LM, SNV:   mask the token covering the variant (at window index W//2);
                    LLR = log P(alt) - log P(ref) at that token (k-mer/BPE: summed over tokens with
                    each base at the variant's offset). All ALTs of a site share one forward pass.
  causal LM, and indels/MNVs with any model:
                    loglik(alt window) - loglik(ref window), same flanks on both
                    (masked LMs: pseudo-log-likelihood).
Skip reasons: unknown_contig, no_alt, symbolic_allele, breakend, non_acgtn, n_allele, ref_mismatch,
no_change, too_long (allele longer than W//2), allele_not_in_vocab.

--model takes a local directory written by save_pretrained (e.g. from `raygen train pretrain`) or a
Hugging Face hub id (needs network; pin it with --revision).

--model spliceai: Illumina's SpliceAI 1.3.1 (five SpliceAI-10k networks from the installed `spliceai`
wheel, run in PyTorch; weights CC BY-NC 4.0, non-commercial). Writes the release's INFO
SpliceAI=ALLELE|SYMBOL|DS_AG|DS_AL|DS_DG|DS_DL|DP_AG|DP_AL|DP_DG|DP_DL (one entry per ALT and gene),
identical to `spliceai -A ANNOTATION -D DISTANCE -M MASK`, and RAYGEN_SKIP for ALTs without scores
(no_alt, unknown_contig, no_gene, ref_mismatch, near_contig_end, ref_too_long, symbolic_allele,
breakend, non_acgtn, complex). Needs --annotation. Example:
  raygen score calls.vcf.gz -f GRCh38.fa --model spliceai --annotation grch38 -o scored.vcf.gz

Where it runs: as a Ray Data job on an actor pool (the embedded local Ray, or the cluster of --address /
$RAY_ADDRESS) when a cluster is named, GPUs or more than one actor are asked for, or the input has at least
{min_records} records; otherwise in this process, with torch on every core it may use (no Ray start, no actor
processes). --ray / --no-ray force either; the output is the same. The summary's last line says where the
time went.""".format(min_records=DEFAULTS.score.ray_min_records)


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    d = DEFAULTS.score
    p = sub.add_parser("score", parents=[common], help="score variants zero-shot with a DNA language model",
                       description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", metavar="IN", help="VCF/BCF (.vcf, .vcf.gz, .bcf; indexed input is read in parallel "
                   "by region) or a Parquet directory written by raygen")
    p.add_argument("-f", "--fasta-ref", required=True, metavar="REF", help="indexed reference FASTA (plain or bgzipped)")
    p.add_argument("--model", required=True, metavar="ID|DIR|spliceai",
                   help="model directory, hub id, or spliceai (the SpliceAI 1.3.1 release)")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="output VCF: .vcf, .vcf.gz (bgzipped + .tbi) or .bcf (+ .csi); written atomically")
    p.add_argument("--window", type=int, default=d.window, metavar="W", help=f"bases of context per variant (default {d.window})")
    p.add_argument("--parquet", metavar="DIR", help="also write a Parquet dataset partitioned by contig")
    p.add_argument("--batch-size", type=int, default=d.batch_size, metavar="N",
                   help=f"sequences per model forward pass (default {d.batch_size})")
    p.add_argument("--rows-per-batch", type=int, default=d.rows_per_batch, metavar="N",
                   help=f"VCF records per Ray Data batch sent to an actor (default {d.rows_per_batch})")
    p.add_argument("--actors", type=int, default=d.actors, metavar="N", help=f"scorer actors, each with its own model copy (default {d.actors})")
    p.add_argument("--cpus-per-actor", type=float, default=d.cpus_per_actor, metavar="F",
                   help=f"Ray CPUs reserved per actor (default {d.cpus_per_actor}; fractional leaves CPU for reads and writes)")
    p.add_argument("--threads-per-actor", type=int, default=d.threads_per_actor, metavar="N",
                   help="torch CPU threads per actor (default 0 = auto: on one machine its cores shared among the "
                   "actors, on a multi-node cluster --cpus-per-actor rounded); scores do not depend on it")
    p.add_argument("--gpus-per-actor", type=float, default=d.gpus_per_actor, metavar="F",
                   help="GPUs per actor (e.g. 1, or 0.5 to share); fails at once if the cluster has no GPU")
    p.add_argument("--normalize", action="store_true",
                   help="left-align and trim against REF first (bcftools norm -f REF -c w)")
    p.add_argument("--revision", metavar="R", help="hub branch, tag or commit to pin the model to")
    p.add_argument("--trust-remote-code", action="store_true",
                   help="allow models that ship their own code (HyenaDNA, Caduceus, NT v2, DNABERT-2)")
    p.add_argument("--reverse-complement", action="store_true", default=d.reverse_complement,
                   help="average each score with the reverse-complement strand's (2x the compute)")
    add_ray_choice(p, d.shard_bp, "input")
    p.add_argument("--rejects", metavar="FILE", help="write malformed input lines here (TSV); default: count and warn")
    p.add_argument("--rename-contigs", metavar="add-chr|strip-chr|TSV",
                   help="rename the input's contigs to the FASTA's before scoring (chr17 vs 17); a TSV file of "
                   "'input_name<TAB>fasta_name' lines also works")
    s = DEFAULTS.spliceai
    g = p.add_argument_group("SpliceAI (--model spliceai)")
    g.add_argument("--annotation", default=s.annotation or None, metavar="grch37|grch38|FILE",
                   help="gene table: the release's GENCODE V24 tables (grch37, grch38) or a file in their format "
                   "(`raygen genes` converts a GTF/GFF3, e.g. MANE Select); contigs differing from the FASTA's "
                   "only by a 'chr' prefix are matched")
    g.add_argument("--distance", type=int, default=s.distance, metavar="D",
                   help=f"bases each side of the variant where gains and losses count (the release's -D; "
                   f"default {s.distance})")
    g.add_argument("--mask", action="store_true", default=s.mask,
                   help="mask gains at annotated exon boundaries and losses elsewhere (the release's -M 1)")
    g.add_argument("--precision", choices=("fp32", "bf16"), default=s.precision,
                   help="fp32 gives the release's scores; bf16 is faster on GPUs but scores differ slightly")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    # the pipeline imports Ray/pysam/torch: loaded when the command runs, so `raygen --help` stays fast
    from raygen.scoring.base import is_spliceai
    from raygen.scoring.pipeline import score_vcf

    cfg = replace(DEFAULTS.score, window=args.window, batch_size=args.batch_size, rows_per_batch=args.rows_per_batch,
                  actors=args.actors, cpus_per_actor=args.cpus_per_actor, gpus_per_actor=args.gpus_per_actor,
                  threads_per_actor=args.threads_per_actor,
                  reverse_complement=args.reverse_complement, shard_bp=args.shard_bp)
    sp = replace(DEFAULTS.spliceai, annotation=args.annotation or "", distance=args.distance, mask=args.mask,
                 precision=args.precision)
    if is_spliceai(args.model):
        from raygen.scoring.spliceai_scorer import check_annotation, check_config

        check_config(sp)  # before Ray starts: a missing --annotation fails in a second
        check_annotation(sp.annotation, args.fasta_ref)  # and a malformed one
    summary = score_vcf(args.input, args.fasta_ref, args.model, args.output, cfg=cfg, parquet_dir=args.parquet,
                        rejects_path=args.rejects, normalize=args.normalize, revision=args.revision,
                        trust_remote_code=args.trust_remote_code, progress=not args.quiet, spliceai=sp,
                        rename_contigs=args.rename_contigs, use_ray=args.use_ray, runtime=runtime_config(args))
    for line in summary.lines():
        print(line)
    return 0
