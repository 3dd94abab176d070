"""``raygen drift P CURRENT``: does a new scored run look like the validation run profiled in P?"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from raygen.config import DEFAULTS, AssessConfig
from raygen.errors import InputError

#: Exit status when a feature drifted (2 is a usage/input error, 1 any other failure).
EXIT_DRIFT = 3

DESCRIPTION = f"""\
Compare CURRENT (a scored VCF/BCF or raygen Parquet) with the baseline profile P written by
`raygen assess SCORED --write-profile P`: per score and variant class, and for the variant-class mix, indel
length and (with -f) GC of the window, the population stability index over the baseline's deciles and the
Kolmogorov-Smirnov statistic against the baseline's quantiles. Prints one line per feature; exits
{EXIT_DRIFT} when a feature's PSI or KS is above its threshold, 0 otherwise. A profile written for another
model than the one that scored CURRENT is refused (both are named)."""


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    d = DEFAULTS.assess
    p = sub.add_parser("drift", parents=[common], help="PSI / KS drift of a scored run against a baseline profile "
                       f"(exit {EXIT_DRIFT} on drift)", description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("profile", metavar="P", help="profile JSON from raygen assess --write-profile")
    p.add_argument("current", metavar="CURRENT", help="scored VCF/BCF or raygen Parquet to check")
    p.add_argument("-f", "--fasta-ref", metavar="REF", help="reference for the GC feature (as for the profile)")
    p.add_argument("--psi-threshold", type=float, default=d.psi_threshold,
                   help=f"PSI above which a feature drifted (default {d.psi_threshold}: 'significant shift')")
    p.add_argument("--ks-threshold", type=float, default=d.ks_threshold,
                   help=f"KS statistic above which a feature drifted (default {d.ks_threshold})")
    p.add_argument("--json", metavar="FILE", help="also write the comparison as JSON")
    p.add_argument("--plot", metavar="PNG", help="also draw baseline vs current shares per feature (PNG)")
    p.set_defaults(func=run)


def _features(path: str, reference: str | None, scores: list[str] | None, cfg: AssessConfig):
    from raygen.eval.assess import ScoreSpec
    from raygen.eval.assess_run import default_scores, score_models
    from raygen.eval.profile import feature_values
    from raygen.eval.scored import open_header, read_alleles
    from raygen.io.fasta import Reference

    header = open_header(path)
    keys = [ScoreSpec.parse(s).key for s in scores] if scores else [s.key for s in default_scores(header)]
    header, alleles = read_alleles(path, keys)
    ref = Reference(reference) if reference else None
    try:
        return score_models(header), feature_values(alleles, keys, ref, cfg.gc_window)
    finally:
        if ref is not None:
            ref.close()


def write_profile(scored: str, out: str, reference: str | None, scores: list[str] | None, cfg: AssessConfig) -> None:
    """Profile ``scored`` into ``out`` (JSON, atomic)."""
    from raygen.eval.profile import build_profile
    from raygen.io.atomic import atomic_path
    from raygen.provenance import Provenance, file_sha256

    models, feats = _features(scored, reference, scores, cfg)
    source = {"file": Path(scored).name, "sha256": file_sha256(scored) if Path(scored).is_file() else "",
              "provenance": Provenance.for_run(reference=reference).as_dict()}
    profile = build_profile(feats, models, source, cfg)
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps(profile), encoding="utf-8")


def load_profile(path: str) -> dict:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read profile {path!r}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise InputError(f"{path}: not a JSON drift profile ({exc})") from None


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from raygen.eval.profile import check_profile, compare, format_table

    cfg = dataclasses.replace(DEFAULTS.assess, psi_threshold=args.psi_threshold, ks_threshold=args.ks_threshold)
    profile = load_profile(args.profile)
    if profile.get("format") is None:
        raise InputError(f"{args.profile} is not a raygen drift profile; write one with raygen assess --write-profile")
    keys = sorted({name.split(" | ")[0] for name in profile.get("features", {}) if " | " in name})
    models, feats = _features(args.current, args.fasta_ref, keys or None, cfg)
    check_profile(profile, models, args.current, args.profile)
    result = compare(profile, feats, cfg)
    print(format_table(result))
    if args.json:
        from raygen.io.atomic import atomic_path

        with atomic_path(args.json) as tmp:
            tmp.write_text(json.dumps(result, indent=1), encoding="utf-8")
    if args.plot:
        from raygen.io.atomic import atomic_path
        from raygen.report.figures import drift_png

        with atomic_path(args.plot) as tmp:
            tmp.write_bytes(drift_png(result))
    if result["drifted"]:
        print(f"raygen drift: {len(result['drifted'])} feature(s) drifted", file=sys.stderr)
        return EXIT_DRIFT
    return 0
