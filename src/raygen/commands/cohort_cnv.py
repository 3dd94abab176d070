"""``raygen cohort target|antitarget|coverage|import-picard|reference|fix|segment|call|scatter``: CNVkit's
copy-number steps with CNVkit's argument names, meanings and file formats (``raygen.cohort``)."""

from __future__ import annotations

import argparse
import dataclasses
import os

from raygen.config import DEFAULTS
from raygen.io.pairs import read_pairs

_SEX_CHOICES = ("m", "y", "male", "Male", "f", "x", "female", "Female")


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    for fn in (_target, _antitarget, _coverage, _import_picard, _reference, _fix, _segment, _call, _scatter):
        fn(sub, common)


# -- parsers --------------------------------------------------------------------------------------------

def _add_parx(p: argparse.ArgumentParser) -> None:
    p.add_argument("--diploid-parx-genome", metavar="BUILD",
                   help="treat the pseudo-autosomal regions of chrX of this build (grch37, grch38) as autosomal")


def _add_ray(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ray", action="store_true",
                   help=f"run on Ray even for few samples (default: from {DEFAULTS.cohort.ray_min_samples} samples)")


def _target(sub, common) -> None:
    c = DEFAULTS.cohort
    p = sub.add_parser("target", parents=[common], help="bait intervals -> target bins (BED)",
                       description="Sort the bait BED, drop zero-width intervals and optionally split large ones into "
                       "bins of about --avg-size bp (merging overlapping or touching baits first), as `cnvkit.py target`.")
    p.add_argument("interval", help="BED file of the targeted (baited) regions")
    p.add_argument("--split", action="store_true", help="split large intervals into consecutive bins of about --avg-size bp")
    p.add_argument("-a", "--avg-size", type=float, default=c.target_avg_size,
                   help=f"average size of split target bins, bp (default {c.target_avg_size:.4g})")
    p.add_argument("--short-names", action="store_true", help="reduce multi-accession labels to one short label")
    p.add_argument("-o", "--output", metavar="FILENAME", help="output BED (default: INTERVAL.target.bed)")
    p.set_defaults(func=run_target)


def _antitarget(sub, common) -> None:
    c = DEFAULTS.cohort
    p = sub.add_parser("antitarget", parents=[common], help="target bins -> off-target bins (BED)",
                       description="Place off-target bins of about --avg-size bp in the accessible genome between targets "
                       "(500 bp away from each), as `cnvkit.py antitarget`. Without --access each targeted chromosome "
                       "is taken from 150 kb to its last target.")
    p.add_argument("targets", help="target BED (from `raygen cohort target`)")
    p.add_argument("-g", "--access", metavar="FILENAME", help="BED of accessible sequence (e.g. from `cnvkit.py access`)")
    p.add_argument("-a", "--avg-size", type=int, default=c.antitarget_avg_size,
                   help=f"average size of antitarget bins, bp (default {c.antitarget_avg_size})")
    p.add_argument("-m", "--min-size", type=int, help="drop regions shorter than this, bp (default: 2 x avg-size / 32)")
    p.add_argument("-o", "--output", metavar="FILENAME", help="output BED (default: TARGETS.antitarget.bed)")
    p.set_defaults(func=run_antitarget)


def _coverage(sub, common) -> None:
    c = DEFAULTS.cohort
    p = sub.add_parser("coverage", parents=[common], help="mean read depth per bin from BAMs (.cnn)",
                       description="Count reads per bin as `cnvkit.py coverage` (samtools bedcov rule: reads without the "
                       "unmapped/secondary/QC-fail/duplicate flags and with MAPQ >= --min-mapq add the reference bases they "
                       "span inside the bin; depth = bases / bin length). One BAM runs in this process; several BAMs run as one "
                       "Ray Data job over (BAM, bin shard) pairs and write SAMPLE.targetcoverage.cnn (or "
                       ".antitargetcoverage.cnn when the BED name contains 'anti') into --output-dir.")
    p.add_argument("inputs", nargs="+", metavar="BAM... INTERVAL",
                   help="one or more coordinate-sorted BAMs (an index is built beside a BAM that lacks one), then the bin BED")
    p.add_argument("--min-mapq", type=int, default=c.min_mapq,
                   help=f"minimum mapping quality (default {c.min_mapq}; CNVkit's -q, which is --quiet in raygen)")
    p.add_argument("-c", "--count", action="store_true", help="count aligned bases only (CNVkit's read-count mode; deletions add nothing)")
    p.add_argument("-o", "--output", metavar="FILENAME", help="output .cnn (one BAM only)")
    p.add_argument("-d", "--output-dir", metavar="DIR", help="directory for the .cnn files of several BAMs (default: .)")
    p.add_argument("--sample-sheet", metavar="TSV", help="'sample_id<TAB>bam_path' lines instead of BAM arguments")
    p.add_argument("--shard-bp", type=int, default=c.shard_bp, help=f"bin span per Ray task, bp (default {c.shard_bp})")
    p.set_defaults(func=run_coverage)


def _import_picard(sub, common) -> None:
    p = sub.add_parser("import-picard", parents=[common], help="Picard CalculateHsMetrics per-target CSVs -> .cnn",
                       description="Convert PER_TARGET_COVERAGE tables into .cnn files named SAMPLE.targetcoverage.cnn "
                       "(or .antitargetcoverage.cnn when the input name contains 'antitarget'), as `cnvkit.py import-picard`.")
    p.add_argument("targets", nargs="+", help="Picard per-target coverage files (target and antitarget)")
    p.add_argument("-d", "--output-dir", metavar="DIRECTORY", default=".", help="output directory (default .)")
    p.set_defaults(func=run_import_picard)


def _bias_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("to disable specific bias corrections")
    g.add_argument("--no-gc", dest="do_gc", action="store_false", help="skip GC correction")
    g.add_argument("--no-edge", dest="do_edge", action="store_false", help="skip edge-effect correction")
    g.add_argument("--no-rmask", dest="do_rmask", action="store_false", help="skip RepeatMasker correction")


def _reference(sub, common) -> None:
    p = sub.add_parser("reference", parents=[common], help="pooled panel-of-normals reference (.cnn)",
                       description="Pool normal samples' coverage into a reference as `cnvkit.py reference`: each normal is "
                       "centred, its sex chromosomes shifted to the reference sex, and GC (targets, antitargets), "
                       "RepeatMasker (antitargets) and edge (targets) biases removed with a rolling median; per bin the "
                       "reference log2 is the biweight location over the normals plus one flat pseudo-sample, spread their "
                       "biweight midvariance. GC and RepeatMasker fractions come from --fasta (or from Picard's %%gc). "
                       "Many normals run on Ray as a per-sample map and a per-bin-chunk reduce. With -t/-a instead of "
                       "normals: a flat reference.")
    p.add_argument("references", nargs="*", help="normal-sample .cnn files (target and antitarget), or directories of them")
    p.add_argument("-f", "--fasta", metavar="FILENAME", help="reference genome FASTA (for GC and RepeatMasker fractions)")
    p.add_argument("-o", "--output", metavar="FILENAME", help="output file (default cnv_reference.cnn)")
    p.add_argument("-x", "--sample-sex", "-g", "--gender", dest="sample_sex", choices=_SEX_CHOICES,
                   help="every normal's chromosomal sex (default: guessed from chrX/chrY coverage)")
    p.add_argument("-y", "--male-reference", "--haploid-x-reference", action="store_true",
                   help="a male reference: chrX expected at log2 -1 (otherwise 0)")
    _add_parx(p)
    g = p.add_argument_group("a flat reference (no normals)")
    g.add_argument("-t", "--targets", help="target BED")
    g.add_argument("-a", "--antitargets", help="antitarget BED")
    _bias_flags(p)
    _add_ray(p)
    p.set_defaults(func=run_reference)


def _fix(sub, common) -> None:
    p = sub.add_parser("fix", parents=[common], help="copy ratios of samples against a reference (.cnr)",
                       description="Correct a sample's target and antitarget coverage for GC, edge and RepeatMasker bias, "
                       "subtract the reference log2, weight each bin and centre, as `cnvkit.py fix`. CNVkit's form: "
                       "TARGET [ANTITARGET] REFERENCE (or -r REFERENCE). With -r and more coverage files, each sample's "
                       "target and antitarget files pair up by name and every .cnr goes to --output-dir.")
    p.add_argument("files", nargs="+", metavar="FILE", help="TARGET [ANTITARGET] [REFERENCE] coverage files")
    p.add_argument("-r", "--reference", help="reference .cnn (from `raygen cohort reference`)")
    p.add_argument("-i", "--sample-id", help="sample id (default: from the file names)")
    p.add_argument("-o", "--output", metavar="FILENAME", help="output .cnr (one sample; default SAMPLE.cnr)")
    p.add_argument("-d", "--output-dir", metavar="DIR", help="directory for the .cnr files of several samples (default .)")
    p.add_argument("--smoothing-window-fraction", type=float,
                   help="rolling-median window of the bias corrections as a fraction of the bins (default max(0.01, 1/sqrt(bins)))")
    _bias_flags(p)
    _add_parx(p)
    _add_ray(p)
    p.set_defaults(func=run_fix)


def _segment(sub, common) -> None:
    c = DEFAULTS.cohort
    p = sub.add_parser("segment", parents=[common], help="copy-number segments from copy ratios (.cns)",
                       description="Segment each chromosome arm's bin log2 ratios as `cnvkit.py segment`: 'cbs' (raygen's native "
                       "circular binary segmentation, no R), 'haar' (HaarSeg, CNVkit's algorithm) or 'none' (one segment per "
                       "arm). Outliers (--drop-outliers) and zero-weight bins are left out of the segmentation but counted in "
                       "each segment's genes, weight and depth.")
    p.add_argument("filenames", nargs="+", metavar="CNR", help="bin-level copy ratios (.cnr)")
    p.add_argument("-m", "--method", choices=("cbs", "haar", "none"), default=c.segment_method,
                   help=f"segmentation method (default {c.segment_method})")
    p.add_argument("-t", "--threshold", type=float,
                   help=f"significance threshold: CBS p-value or HaarSeg FDR q (default {c.segment_threshold:g})")
    p.add_argument("--drop-low-coverage", action="store_true", help="leave very-low-coverage bins out of the segmentation")
    p.add_argument("--drop-outliers", metavar="FACTOR", type=float, default=10.0,
                   help="leave out bins further from the trend than FACTOR x the rolling 95th percentile (0: keep; default 10)")
    p.add_argument("-o", "--output", metavar="FILENAME", help="output .cns (one input; default SAMPLE.cns)")
    p.add_argument("-d", "--output-dir", metavar="DIR", help="directory for the .cns files of several inputs")
    _add_ray(p)
    p.set_defaults(func=run_segment)


def _thresholds(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"thresholds must be comma-separated numbers: {text!r}") from None


def _purity(text: str) -> float:
    v = float(text)
    if not 0.0 < v <= 1.0:
        raise argparse.ArgumentTypeError(f"purity must be in (0, 1], got {v}")
    return v


def _ploidy(text: str) -> float:
    v = float(text)
    if v < 1:
        raise argparse.ArgumentTypeError(f"ploidy must be >= 1, got {v}")
    return v


def _call(sub, common) -> None:
    p = sub.add_parser("call", parents=[common], help="integer copy numbers of segments (.call.cns)",
                       description="Assign integer copy numbers as `cnvkit.py call`: 'threshold' (log2 cutoffs, "
                       "default -1.1,-0.25,0.2,0.7 for 0,1,2,3 copies), 'clonal' (round ref_copies x 2^log2, with --purity "
                       "rescaling) or 'none'. Sex chromosomes follow -y and the sample's sex (guessed unless -x).")
    p.add_argument("filenames", nargs="+", metavar="CNS", help="segments (.cns) or bins (.cnr)")
    p.add_argument("-m", "--method", choices=("threshold", "clonal", "none"), default="threshold",
                   help="calling method (default threshold)")
    p.add_argument("-t", "--thresholds", type=_thresholds, default=(-1.1, -0.25, 0.2, 0.7),
                   help="log2 thresholds for 0, 1, 2, 3... copies, comma-separated (use -t=-1,0,1)")
    p.add_argument("--ploidy", type=_ploidy, default=2, help="ploidy of the sample cells (default 2)")
    p.add_argument("--purity", type=_purity, help="tumour cell fraction, in (0, 1]")
    p.add_argument("--center", nargs="?", const="median", choices=("mean", "median", "biweight"),
                   help="re-centre log2 ratios on the autosomes with this estimator (median if no value)")
    p.add_argument("--center-at", type=float, help="subtract this constant from every log2 ratio")
    p.add_argument("--drop-low-coverage", action="store_true", help="ignore very-low-coverage bins when centring")
    p.add_argument("-x", "--sample-sex", "-g", "--gender", dest="sample_sex", choices=_SEX_CHOICES,
                   help="the sample's chromosomal sex (default: guessed from chrX/chrY)")
    p.add_argument("-y", "--male-reference", "--haploid-x-reference", action="store_true",
                   help="the inputs were normalized to a male reference")
    p.add_argument("-o", "--output", metavar="FILENAME", help="output (one input; default SAMPLE.call.cns)")
    p.add_argument("-d", "--output-dir", metavar="DIR", help="directory for the outputs of several inputs")
    _add_parx(p)
    _add_ray(p)
    p.set_defaults(func=run_call)


def _scatter(sub, common) -> None:
    p = sub.add_parser("scatter", parents=[common], help="PNG of copy ratios and segments along the genome",
                       description="Plot bin log2 ratios (dots; lighter for off-target bins, larger for heavier bins) and "
                       "segments (lines: red gain, blue loss, black neutral) along the genome or one region. The format "
                       "follows the --output extension (png, pdf, svg).")
    p.add_argument("filename", nargs="?", help="bin-level copy ratios (.cnr)")
    p.add_argument("-s", "--segment", metavar="FILENAME", help="segments (.cns), e.g. from `raygen cohort segment`")
    p.add_argument("-c", "--chromosome", metavar="RANGE", help="show one chromosome or region, e.g. chr7 or chr7:1-5,000,000")
    p.add_argument("-o", "--output", metavar="FILENAME", help="output picture (default SAMPLE-scatter.png)")
    p.add_argument("--title", help="plot title (default: the sample id)")
    p.add_argument("--y-min", type=float, help="y-axis lower limit")
    p.add_argument("--y-max", type=float, help="y-axis upper limit")
    p.add_argument("--segment-color", help="one colour for all segments (default: by gain / loss)")
    p.set_defaults(func=run_scatter)


# -- runners --------------------------------------------------------------------------------------------

def _write_bed(table, path: str) -> None:
    from raygen.io.atomic import atomic_path

    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.writelines(f"{c}\t{s}\t{e}\t{g}\n" for c, s, e, g in zip(table.chrom.tolist(), table.start.tolist(),
                                                                   table.end.tolist(), table.gene.tolist()))


def run_target(args: argparse.Namespace) -> int:
    from raygen.cohort import bins

    out = bins.make_targets(bins.table_from_bed(args.interval), split=args.split, avg_size=args.avg_size,
                            short_names=args.short_names)
    path = args.output or args.interval.rsplit(".", 1)[0] + ".target.bed"
    _write_bed(out, path)
    print(f"wrote {path}: {len(out)} target bins, {int((out.end - out.start).sum()):,} bp")
    return 0


def run_antitarget(args: argparse.Namespace) -> int:
    from raygen.cohort import bins

    access = bins.table_from_bed(args.access) if args.access else None
    out = bins.make_antitargets(bins.table_from_bed(args.targets), access, args.avg_size, args.min_size)
    path = args.output or args.targets.rsplit(".", 1)[0] + ".antitarget.bed"
    _write_bed(out, path)
    print(f"wrote {path}: {len(out)} antitarget bins, {int((out.end - out.start).sum()):,} bp")
    return 0


def _sample_sheet(path: str) -> list[tuple[str, str]]:
    return read_pairs(path, "sample_id<TAB>bam_path")


def run_coverage(args: argparse.Namespace) -> int:
    from raygen.cohort import bins as binmod
    from raygen.cohort import coverage
    from raygen.cohort.cnvfiles import sample_id_from_path, write_cnvkit
    from raygen.errors import UsageError

    if args.sample_sheet:
        bed = args.inputs[-1]
        samples = _sample_sheet(args.sample_sheet) + [(sample_id_from_path(b), b) for b in args.inputs[:-1]]
    else:
        if len(args.inputs) < 2:
            raise UsageError("give a BAM and the bin BED (coverage BAM [BAM...] INTERVAL)")
        bed = args.inputs[-1]
        samples = [(sample_id_from_path(b), b) for b in args.inputs[:-1]]
    if not samples:
        raise UsageError("no BAM given")
    if len({s for s, _ in samples}) != len(samples):
        raise UsageError("two BAMs share a sample name; use --sample-sheet to name them")
    if args.output and len(samples) > 1:
        raise UsageError("-o/--output names one file; with several BAMs use --output-dir")
    bins = binmod.table_from_bed(bed)
    binmod.warn_order(bins, bed)
    opts = coverage.CoverageOptions(min_mapq=args.min_mapq, by_count=args.count)
    kind = "antitargetcoverage" if "anti" in sample_id_from_path(bed).lower() else "targetcoverage"
    outs = [args.output] if args.output else [os.path.join(args.output_dir or ".", f"{s}.{kind}.cnn") for s, _ in samples]
    if len(samples) == 1:
        table = coverage.sample_coverage(samples[0][1], bins, opts, samples[0][0])
        write_cnvkit(table, outs[0])
        print(f"wrote {outs[0]}: {len(table)} bins, mean depth {table['depth'].mean():.4g}")
        return 0
    from raygen.cli import runtime_config
    from raygen.cohort.pipeline import coverage_many
    from raygen.runtime import init_ray

    init_ray(runtime_config(args))
    cfg = dataclasses.replace(DEFAULTS.cohort, shard_bp=args.shard_bp)
    written = coverage_many(samples, bins, outs, opts, cfg, progress=not args.quiet)
    print(f"wrote {len(written)} coverage files ({len(bins)} bins each) to {os.path.dirname(outs[0]) or '.'}")
    return 0


def run_import_picard(args: argparse.Namespace) -> int:
    from raygen.cohort.cnvfiles import read_picard, write_cnvkit
    from raygen.errors import InputError

    for path in args.targets:
        if not os.path.isfile(path):
            raise InputError(f"not a file: {path}")
        table = read_picard(path)
        out = os.path.join(args.output_dir, f"{table.sample_id}.{'anti' if 'antitarget' in path else ''}targetcoverage.cnn")
        write_cnvkit(table, out)
        print(f"wrote {out}: {len(table)} bins")
    return 0


def _expand(paths: list[str]) -> list[str]:
    out = []
    for p in paths:
        if os.path.isdir(p):
            out.extend(sorted(os.path.join(p, f) for f in os.listdir(p) if f.endswith("targetcoverage.cnn")))
        else:
            out.append(p)
    return out


def _use_ray(args: argparse.Namespace, n: int) -> bool:
    return args.ray or n >= DEFAULTS.cohort.ray_min_samples


def run_reference(args: argparse.Namespace) -> int:
    from raygen.cohort import bins as binmod
    from raygen.cohort import chromosomes, pooling
    from raygen.cohort.cnvfiles import read_cnvkit, write_cnvkit
    from raygen.errors import UsageError

    out = args.output or "cnv_reference.cnn"
    if args.targets:
        if args.references:
            raise UsageError("give normal .cnn files OR -t/-a target and antitarget BEDs, not both")
        ref = pooling.flat_reference(binmod.table_from_bed(args.targets),
                                     binmod.table_from_bed(args.antitargets) if args.antitargets else None,
                                     args.fasta, args.male_reference)
        write_cnvkit(ref, out)
        print(f"wrote {out}: flat reference of {len(ref)} bins")
        return 0
    files = _expand(args.references)
    if not files:
        raise UsageError("give normal-sample .cnn files (or -t/-a for a flat reference)")
    targets = [f for f in files if "antitarget" not in os.path.basename(f)]
    antis = [f for f in files if "antitarget" in os.path.basename(f)]
    female = None if not args.sample_sex else args.sample_sex.lower() not in ("y", "m", "male")
    opts = pooling.ReferenceOptions(haploid_x_reference=args.male_reference,
                                    parx_build=chromosomes.check_build(args.diploid_parx_genome),
                                    female_samples=female, do_gc=args.do_gc, do_edge=args.do_edge, do_rmask=args.do_rmask)
    if antis and len(antis) != len(targets):
        raise UsageError(f"unequal number of target ({len(targets)}) and antitarget ({len(antis)}) files")
    if _use_ray(args, len(targets)):
        from raygen.cli import runtime_config
        from raygen.cohort.pipeline import reference_many
        from raygen.runtime import init_ray

        init_ray(runtime_config(args))
        ref = reference_many(targets, antis, args.fasta, opts, progress=not args.quiet)
    else:
        ref = pooling.build_reference([read_cnvkit(t) for t in targets], [read_cnvkit(a) for a in antis], args.fasta, opts)
    write_cnvkit(ref, out)
    bad, anti = pooling.bad_bin_mask(ref), ref.is_antitarget()
    n_t, n_a = int((bad & ~anti).sum()), int((bad & anti).sum())
    print(f"wrote {out}: {len(ref)} bins from {len(targets)} normals ({n_t} target and {n_a} antitarget bins fail "
          "the reference filters and will be skipped by fix)")
    return 0


def _pair_coverage(files: list[str]) -> list[tuple[str, str | None]]:
    from raygen.cohort.cnvfiles import sample_id_from_path
    from raygen.errors import UsageError

    antis = {sample_id_from_path(f): f for f in files if "antitarget" in os.path.basename(f)}
    targets = [f for f in files if "antitarget" not in os.path.basename(f)]
    pairs = [(t, antis.pop(sample_id_from_path(t), None)) for t in targets]
    if antis:
        raise UsageError(f"antitarget files without a target file: {', '.join(sorted(antis.values())[:3])}")
    return pairs


def run_fix(args: argparse.Namespace) -> int:
    from raygen.cohort import chromosomes
    from raygen.cohort.cnvfiles import sample_id_from_path
    from raygen.cohort.fix import FixOptions
    from raygen.errors import UsageError

    files = list(args.files)
    reference = args.reference
    if reference is None:
        if len(files) not in (2, 3):
            raise UsageError("give TARGET [ANTITARGET] REFERENCE, or -r REFERENCE and coverage files")
        reference = files.pop()
        pairs = [(files[0], files[1] if len(files) > 1 else None)]
    else:
        pairs = _pair_coverage(files)
    if (args.output or args.sample_id) and len(pairs) > 1:
        raise UsageError("-o/-i apply to one sample; with several use --output-dir")
    opts = FixOptions(do_gc=args.do_gc, do_edge=args.do_edge, do_rmask=args.do_rmask,
                      parx_build=chromosomes.check_build(args.diploid_parx_genome),
                      window_fraction=args.smoothing_window_fraction)
    outs = [args.output or os.path.join(args.output_dir or ".", (args.sample_id or sample_id_from_path(t)) + ".cnr")
            for t, _ in pairs]
    jobs = [(t, a, reference, o, args.sample_id, opts) for (t, a), o in zip(pairs, outs)]
    from raygen.cohort.steps import fix_file

    written = _map(args, fix_file, jobs, "fix")
    print(f"wrote {', '.join(written[:3])}{' ...' if len(written) > 3 else ''} ({len(written)} sample(s))")
    return 0


def _map(args: argparse.Namespace, func, jobs: list[tuple], desc: str) -> list:
    if _use_ray(args, len(jobs)) and len(jobs) > 1:
        from raygen.cli import runtime_config
        from raygen.cohort.pipeline import map_samples
        from raygen.runtime import init_ray

        init_ray(runtime_config(args))
        return map_samples(func, jobs, desc=desc, progress=not args.quiet)
    return [func(*j) for j in jobs]


def _outputs(args: argparse.Namespace, suffix: str) -> list[str]:
    from raygen.cohort.cnvfiles import sample_id_from_path
    from raygen.errors import UsageError

    if args.output and len(args.filenames) > 1:
        raise UsageError("-o/--output names one file; with several inputs use --output-dir")
    if args.output:
        return [args.output]
    return [os.path.join(args.output_dir or ".", sample_id_from_path(f) + suffix) for f in args.filenames]


def run_segment(args: argparse.Namespace) -> int:
    from raygen.cohort.segment import SegmentOptions

    opts = SegmentOptions(method=args.method, threshold=args.threshold, drop_low_coverage=args.drop_low_coverage,
                          drop_outliers=args.drop_outliers)
    from raygen.cohort.steps import segment_file

    results = _map(args, segment_file, [(f, o, opts) for f, o in zip(args.filenames, _outputs(args, ".cns"))], "segment")
    for out, n in results[:5]:
        print(f"wrote {out}: {n} segments")
    if len(results) > 5:
        print(f"... {len(results)} files in all")
    return 0


def run_call(args: argparse.Namespace) -> int:
    from raygen.cohort import chromosomes
    from raygen.cohort.calls import CallOptions

    opts = CallOptions(method=args.method, thresholds=tuple(args.thresholds), ploidy=args.ploidy, purity=args.purity,
                       haploid_x_reference=args.male_reference, sample_sex=args.sample_sex, center=args.center,
                       center_at=args.center_at, drop_low_coverage=args.drop_low_coverage,
                       parx_build=chromosomes.check_build(args.diploid_parx_genome))
    from raygen.cohort.steps import call_file

    results = _map(args, call_file, [(f, o, opts) for f, o in zip(args.filenames, _outputs(args, ".call.cns"))], "call")
    for out, counts in results[:5]:
        summary = ", ".join(f"cn {k}: {v}" for k, v in sorted(counts.items()))
        print(f"wrote {out}" + (f" ({summary})" if summary else ""))
    return 0


def run_scatter(args: argparse.Namespace) -> int:
    from raygen.cohort.cnvfiles import read_cnvkit
    from raygen.cohort.scatter import ScatterOptions, render
    from raygen.errors import UsageError

    if not args.filename and not args.segment:
        raise UsageError("give a .cnr file, a -s/--segment .cns file, or both")
    bins = read_cnvkit(args.filename) if args.filename else None
    segs = read_cnvkit(args.segment) if args.segment else None
    name = (bins if bins is not None else segs).sample_id
    out = args.output or f"{name}-scatter.png"
    render(bins, segs, out, ScatterOptions(chromosome=args.chromosome, title=args.title, y_min=args.y_min,
                                           y_max=args.y_max, segment_color=args.segment_color,
                                           dpi=DEFAULTS.cohort.scatter_dpi))
    print(f"wrote {out}")
    return 0
