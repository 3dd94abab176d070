"""Benchmark zero-shot scoring: raygen's batched Scorer vs a naive one-variant-per-forward loop.

Prints variants/s for both, the speed-up, and the achieved model FLOP/s as a fraction of a dense matmul
measured on the same device in the same run. Model FLOPs use the usual forward estimate
``2 * n_params * tokens`` (tokens actually fed to the model, counted by a forward hook; attention's
sequence-length term is ignored, which understates FLOPs slightly for long windows). The matmul baseline
is an n x n x n matmul in the dtype the scorer computes in (float32 on CPU, bf16 on CUDA).

Usage:
    python benchmarks/score.py                       # raygen-small MLM (random weights), 2000 SNVs
    python benchmarks/score.py --model DIR --variants 5000 --window 128
    python benchmarks/score.py --device cuda --batch-size 256
    python benchmarks/score.py --ray                 # also the full Ray Data pipeline (raygen score)

Variants are random SNVs (10% of sites multi-allelic, so sites share forward passes), plus
``--indel-fraction`` small indels, on a random reference; ``--fasta`` uses a real one (sites drawn where it
has no N).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def build_default_model(out: Path, arch: str, kind: str) -> Path:
    from raygen.models.arch import build_model
    from raygen.models.tokenizer import build_nucleotide_tokenizer

    tok = build_nucleotide_tokenizer()
    model = build_model(arch, kind, tok)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def random_reference(out: Path, length: int, seed: int) -> Path:
    import pysam

    rng = np.random.default_rng(seed)
    seq = "".join(rng.choice(list("ACGT"), size=length))
    out.write_text(">bench\n" + "\n".join(seq[i:i + 60] for i in range(0, length, 60)) + "\n")
    pysam.faidx(str(out))
    return out


def make_variants(fasta: str, n: int, seed: int, window: int, indel_fraction: float = 0.0):
    from raygen.io.fasta import Reference
    from raygen.variant import Variant

    rng = np.random.default_rng(seed)
    ref = Reference(fasta)
    chrom = max(ref.contigs, key=ref.length)
    length = ref.length(chrom)
    out = []
    while len(out) < n:
        pos = int(rng.integers(window, length - window))
        base = ref.fetch(chrom, pos - 1, pos)
        if base not in "ACGT":
            continue
        r = rng.random()
        if r < indel_fraction:  # small deletion / insertion (masked LMs: pseudo-log-likelihood, ~W forwards)
            k = int(rng.integers(1, 4))
            if rng.random() < 0.5:
                out.append(Variant(chrom, pos, ref.fetch(chrom, pos - 1, pos + k), base))
            else:
                out.append(Variant(chrom, pos, base, base + "".join(rng.choice(list("ACGT"), size=k))))
            continue
        alts = [b for b in "ACGT" if b != base]
        rng.shuffle(alts)
        for alt in alts[: 2 if r > 0.9 else 1]:
            out.append(Variant(chrom, pos, base, alt))
    return out[:n], ref


class TokenCounter:
    """Counts tokens fed to the model (forward pre-hook) so FLOPs come from what actually ran."""

    def __init__(self, model):
        self.tokens = 0
        self.forwards = 0
        model.register_forward_pre_hook(self._hook, with_kwargs=True)

    def _hook(self, module, args, kwargs):
        ids = kwargs.get("input_ids", args[0] if args else None)
        self.tokens += int(ids.numel())
        self.forwards += 1


def matmul_flops(device: str, dtype, n: int, seconds: float = 2.0) -> float:
    """Dense n x n x n matmul FLOP/s on ``device`` (best of repeated runs for ``seconds``)."""
    import torch

    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    for _ in range(3):
        a @ b
    sync()
    best, t_end = float("inf"), time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        t = time.perf_counter()
        for _ in range(5):
            a @ b
        sync()
        best = min(best, (time.perf_counter() - t) / 5)
    return 2 * n**3 / best


def naive_scores(loaded, ref, variants, window):
    """The obvious loop: per variant, fetch its window, tokenize, one forward of batch size 1."""
    from raygen.scoring import causal, masked
    from raygen.scoring.windows import BASE_INDEX, plan_variant

    out = []
    for v in variants:
        p = plan_variant(v, ref, window)
        if p.kind == "snv" and loaded.kind == "mlm":
            logp, _ = masked.masked_site_outputs(loaded, [p.ref_window], window // 2, batch_size=1)
            out.append(float(logp[0, BASE_INDEX[p.alt_base]] - logp[0, BASE_INDEX[p.ref_base]]))
        elif p.kind is not None:
            f = causal.sequence_loglik if loaded.kind == "clm" else masked.pseudo_loglik
            ll = [float(f(loaded, [s], batch_size=1)[0]) for s in (p.ref_window, p.alt_window)]
            out.append(ll[1] - ll[0])
        else:
            out.append(None)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="model dir or hub id (default: raygen-small, random weights)")
    ap.add_argument("--arch", default="raygen-small", help="recipe for the default model")
    ap.add_argument("--kind", default="mlm", choices=["mlm", "clm"], help="objective of the default model")
    ap.add_argument("--fasta", help="reference FASTA (default: 1 Mb random sequence)")
    ap.add_argument("--variants", type=int, default=2000)
    ap.add_argument("--naive-variants", type=int, default=300, help="variants timed in the naive loop")
    ap.add_argument("--window", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    ap.add_argument("--matmul-n", type=int, default=0, help="matmul size (default 1024 CPU, 8192 CUDA)")
    ap.add_argument("--ray", action="store_true", help="also time the full Ray Data pipeline (raygen score)")
    ap.add_argument("--indel-fraction", type=float, default=0.0,
                    help="fraction of sites that are 1-3 bp indels (default 0: SNVs; masked-LM indels cost ~W forwards)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    import torch

    from raygen.models.load import load_model
    from raygen.scoring import Scorer

    if args.threads:
        torch.set_num_threads(args.threads)
    tmp = Path(tempfile.mkdtemp(prefix="raygen-bench-"))
    model_dir = args.model or str(build_default_model(tmp / "model", args.arch, args.kind))
    fasta = args.fasta or str(random_reference(tmp / "ref.fa", 1_000_000, args.seed))
    loaded = load_model(model_dir, device=args.device)
    dev = loaded.device
    counter = TokenCounter(loaded.model)
    variants, ref = make_variants(fasta, args.variants, args.seed, args.window, args.indel_fraction)
    n_params = loaded.n_params
    print(f"device {dev} ({torch.cuda.get_device_name(0) if dev.startswith('cuda') else f'CPU, {torch.get_num_threads()} torch threads'}), "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"model {model_dir if args.model else args.arch + ' (random weights)'}: {loaded.kind}, {loaded.scheme}, "
          f"{n_params / 1e6:.2f} M params; window {args.window}; {len(variants)} variants")

    dtype = torch.bfloat16 if dev.startswith("cuda") else torch.float32
    peak = matmul_flops(dev, dtype, args.matmul_n or (8192 if dev.startswith("cuda") else 1024))
    print(f"dense matmul ({str(dtype).replace('torch.', '')}): {peak / 1e9:.1f} GFLOP/s")

    scorer = Scorer(loaded, fasta, window=args.window, batch_size=args.batch_size, device=dev)
    scorer.score_variants(variants[:50])  # warm-up (allocator, kernels)
    rows = []
    for name, fn, vs in (
        ("naive (1 variant / forward)", lambda vs: naive_scores(loaded, ref, vs, args.window), variants[: args.naive_variants]),
        (f"raygen Scorer (batch {args.batch_size})", scorer.score_variants, variants),
    ):
        counter.tokens = counter.forwards = 0
        if dev.startswith("cuda"):
            torch.cuda.synchronize()
        t = time.perf_counter()
        res = fn(vs)
        if dev.startswith("cuda"):
            torch.cuda.synchronize()
        el = time.perf_counter() - t
        flops = 2 * n_params * counter.tokens / el
        rows.append((name, len(vs) / el, flops, counter.forwards, counter.tokens, el))
        if name.startswith("raygen"):
            llr_batched = [r.llr for r in res[: args.naive_variants]]
        else:
            llr_naive = res
    diff = max((abs(a - b) for a, b in zip(llr_batched, llr_naive) if a is not None and b is not None), default=0.0)
    for name, rate, flops, fw, tok, el in rows:
        print(f"{name:<32} {rate:9.1f} variants/s  {fw:6d} forwards  {tok:9d} tokens  {el:7.2f} s  "
              f"{flops / 1e9:8.2f} GFLOP/s = {100 * flops / peak:5.1f}% of matmul")
    print(f"speed-up vs naive: {rows[1][1] / rows[0][1]:.1f}x   (max |LLR difference| batched vs naive: {diff:.2e})")

    if args.ray:
        from raygen.config import RuntimeConfig, ScoreConfig
        from raygen.runtime import init_ray
        from raygen.scoring.pipeline import score_vcf

        vcf = tmp / "bench.vcf"
        chrom = variants[0].chrom
        lines = ["##fileformat=VCFv4.2", f"##contig=<ID={chrom},length={ref.length(chrom)}>",
                 "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]
        lines += [f"{v.chrom}\t{v.pos}\t.\t{v.ref}\t{v.alt}\t.\t.\t." for v in sorted(variants, key=lambda v: v.pos)]
        vcf.write_text("\n".join(lines) + "\n")
        import pysam

        vcf_gz = pysam.tabix_index(str(vcf), preset="vcf", force=True)
        init_ray(RuntimeConfig())
        cfg = ScoreConfig(window=args.window, batch_size=args.batch_size, cpus_per_actor=1.0,
                          gpus_per_actor=1.0 if dev.startswith("cuda") else 0.0)
        s = score_vcf(vcf_gz, fasta, model_dir, str(tmp / "out.vcf.gz"), cfg=cfg, progress=False)
        print(f"Ray Data pipeline (raygen score, 1 actor, incl. actor start + model load + write): "
              f"{s.alleles_scored / s.seconds:.1f} variants/s over {s.seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
