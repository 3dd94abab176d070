"""The rows of ``raygen report``: which variants, their scores, probabilities and computational evidence codes.

Pure functions over the allele table of :mod:`raygen.eval.scored` (positions 1-based VCF POS).

- :func:`parse_include`: the report's filter, conjunctions of ``KEY OP NUMBER`` (``OP`` one of ``>= <= > <
  == !=``) joined by ``&&``, e.g. ``RAYGEN_PROB>=0.3 && SpliceAI>=0.2`` (a missing value never passes). This
  is deliberately a small language, not bcftools' expressions.
- :func:`evidence_for`: per score, the ACMG/AMP computational code a value reaches: for ``SpliceAI`` the
  published thresholds (ClinGen SVI, Walker et al. 2023: >= 0.2 PP3, <= 0.1 BP4), for a probability (or a
  score with a fitted Platt mapping) the thresholds ``raygen assess`` chose on calibration labels (from its
  JSON, ``--assessment``). A score without thresholds gets no code. Codes are reported per score, never
  combined: ClinGen counts PP3/BP4 from one predictor only, and choosing it is the curator's call.
"""

from __future__ import annotations

import math
import operator
import re

from raygen.config import DEFAULTS, AssessConfig
from raygen.errors import InputError, UsageError
from raygen.eval.calibration import PlattMapping
from raygen.eval.scored import SPLICEAI_KEY
from raygen.eval.thresholds import spliceai_thresholds, strength_of

OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "==": operator.eq,
       "!=": operator.ne}
_TERM = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(>=|<=|==|!=|>|<)\s*(-?[0-9.]+(?:[eE]-?[0-9]+)?)\s*$")


def parse_include(expr: str | None) -> list[tuple[str, str, float]]:
    """``[(key, op, value), ...]`` of an include expression (empty: every variant passes)."""
    if not expr:
        return []
    out = []
    for term in expr.split("&&"):
        m = _TERM.match(term)
        if not m:
            raise UsageError(f"--include {expr!r}: cannot read {term.strip()!r}; write KEY OP NUMBER joined by && "
                             f"(OP one of {' '.join(OPS)}), e.g. 'RAYGEN_PROB>=0.3 && SpliceAI>=0.2'")
        out.append((m.group(1), m.group(2), float(m.group(3))))
    return out


def passes(values: dict[str, float], conds: list[tuple[str, str, float]]) -> bool:
    """Whether one allele's ``values`` meet every condition (a missing or NaN value fails)."""
    for key, op, value in conds:
        v = values.get(key)
        if v is None or (isinstance(v, float) and math.isnan(v)) or not OPS[op](v, value):
            return False
    return True


def threshold_sets(assessment: dict | None, keys: list[str], cfg: AssessConfig = DEFAULTS.assess) -> dict[str, dict]:
    """Per score key: ``{"thresholds", "mapping" (PlattMapping or None), "source"}`` where the report can
    give codes. ``assessment`` is ``raygen assess``'s JSON (its scores' fitted thresholds and mappings)."""
    out: dict[str, dict] = {}
    if SPLICEAI_KEY in keys:
        t = spliceai_thresholds(cfg.spliceai_pp3, cfg.spliceai_bp4)
        out[SPLICEAI_KEY] = {"thresholds": t, "mapping": None, "source": t["source"]}
    for s in (assessment or {}).get("scores", []):
        if s["key"] not in keys or not s.get("thresholds"):
            continue
        t = s["thresholds"]
        mapping = PlattMapping.from_dict(s["mapping"]) if s.get("mapping") else None
        if mapping is None and s.get("orientation") != "prob":
            continue  # thresholds live on a probability scale; without a mapping the raw score has none
        out[s["key"]] = {"thresholds": t, "mapping": mapping, "orientation": s.get("orientation", "prob"),
                         "source": f"{t['method']}, chosen on {t['source']}"}
    return out


def evidence_for(values: dict[str, float], sets: dict[str, dict]) -> dict[str, dict]:
    """Per score key with thresholds: ``{"value", "prob" (the value thresholds apply to), "code", "strength"}``."""
    out = {}
    for key, ts in sets.items():
        v = values.get(key)
        if v is None or math.isnan(v):
            out[key] = {"value": None, "prob": None, "code": None, "strength": None}
            continue
        p = v
        if ts.get("mapping") is not None:
            x = -v if ts.get("orientation") == "neg" else (abs(v) if ts.get("orientation") == "abs" else v)
            p = float(ts["mapping"](x))
        code, strength = strength_of(p, ts["thresholds"])
        out[key] = {"value": v, "prob": p, "code": code, "strength": strength}
    return out


def check_sample(samples: list[str], sample: str | None, path: str) -> None:
    if sample is not None and sample not in samples:
        raise InputError(f"sample {sample!r} is not in {path} (samples: {', '.join(samples) or 'none: sites only'})")
