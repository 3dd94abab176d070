"""R peers for differential tests and benchmarks: sva::ComBat, edgeR and DESeq2 run in ONE Rscript session.

Each case is written as TSV (values with 17 significant digits, so R reads exactly our doubles), a
manifest lists them, and one Rscript call loads the packages once, runs every case and writes each
output with 17 significant digits plus the seconds ComBat itself took. Tests get ``rscript`` from
``oracles.require_r``; ``benchmarks/combat.py`` uses the same functions.
"""

from __future__ import annotations

import csv
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

COMBAT_R = r"""
suppressMessages(library(sva))
man <- read.delim(commandArgs(TRUE)[1], colClasses="character")
for (i in seq_len(nrow(man))) {
  m <- man[i, ]
  dat <- as.matrix(read.delim(m$matrix, row.names=1, check.names=FALSE, na.strings="NA"))
  sh <- read.delim(m$sheet, colClasses="character", check.names=FALSE)
  for (col in strsplit(m$numeric, ",")[[1]]) sh[[col]] <- as.numeric(sh[[col]])
  mod <- if (m$formula == "") NULL else model.matrix(as.formula(m$formula), data=sh)
  ref <- if (m$ref == "") NULL else m$ref
  err <- tryCatch({  # one failing case (sva stops on some inputs) must not end the session
    t <- system.time(out <- suppressMessages(capture.output(r <- ComBat(dat, sh$batch, mod=mod,
           par.prior=as.logical(m$par), mean.only=as.logical(m$mean_only), ref.batch=ref))))
    write.table(matrix(sprintf("%.17g", r), nrow(r)), m$out, sep="\t", quote=FALSE, row.names=FALSE, col.names=FALSE)
    writeLines(sprintf("%.6f", t[["elapsed"]]), paste0(m$out, ".seconds"))
    NULL
  }, error=function(e) conditionMessage(e))
  if (!is.null(err)) writeLines(err, paste0(m$out, ".error"))
}
"""

SIZE_FACTORS_R = r"""
suppressMessages({library(edgeR); library(DESeq2)})
a <- commandArgs(TRUE)
for (k in seq_len(as.integer(a[2]))) {
  x <- as.matrix(read.delim(file.path(a[1], sprintf("counts%d.tsv", k - 1)), row.names=1, check.names=FALSE))
  lib <- colSums(x)
  tmm <- calcNormFactors(x, method="TMM")
  uq <- tryCatch(calcNormFactors(x, method="upperquartile"), warning=function(w) rep(NA, ncol(x)))
  sf <- tryCatch(estimateSizeFactorsForMatrix(x), error=function(e) rep(NA, ncol(x)))
  write.table(matrix(sprintf("%.17g", cbind(tmm, uq, sf)), ncol(x)), file.path(a[1], sprintf("f%d.tsv", k - 1)),
              sep="\t", quote=FALSE, row.names=FALSE, col.names=FALSE)
  lc <- cpm(x, lib.size=lib * tmm, log=TRUE, prior.count=as.numeric(a[3]))
  write.table(matrix(sprintf("%.17g", lc), nrow(x)), file.path(a[1], sprintf("lc%d.tsv", k - 1)), sep="\t",
              quote=FALSE, row.names=FALSE, col.names=FALSE)
}
"""


@dataclass
class RCombatCase:
    """One sva::ComBat call: data (features x samples), batch labels, covariates (column -> values)."""

    y: np.ndarray
    batch: list[str]
    covariates: dict[str, list[str]] = field(default_factory=dict)
    numeric: tuple[str, ...] = ()  # covariates R reads as numbers (the rest are factors in model.matrix)
    ref: str | None = None
    parametric: bool = True
    mean_only: bool = False


def _write_matrix(path: Path, y: np.ndarray) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\t".join(["feature"] + [f"s{j}" for j in range(y.shape[1])]) + "\n")
        for i, row in enumerate(y):
            fh.write("\t".join([f"f{i}"] + ["NA" if np.isnan(v) else f"{v:.17g}" for v in row]) + "\n")


def _read_numbers(path: Path) -> np.ndarray:
    with open(path, encoding="utf-8") as fh:
        return np.array([[np.nan if v.strip() in ("NA", "NaN") else float(v) for v in r]
                         for r in csv.reader(fh, delimiter="\t")])


def r_combat(rscript: str, cases: list[RCombatCase], workdir: Path, timeout: float = 600,
             keep_going: bool = False) -> list[tuple[np.ndarray | None, float | str]]:
    """Run every case through sva::ComBat in one R session; returns (adjusted matrix, ComBat seconds) each.
    A case sva stops on raises, or with ``keep_going`` gives (None, R's error message)."""
    workdir.mkdir(parents=True, exist_ok=True)
    rows = []
    for k, c in enumerate(cases):
        _write_matrix(workdir / f"y{k}.tsv", c.y)
        with open(workdir / f"s{k}.tsv", "w", encoding="utf-8") as fh:
            cols = ["sample", "batch", *c.covariates]
            fh.write("\t".join(cols) + "\n")
            for j in range(c.y.shape[1]):
                fh.write("\t".join([f"s{j}", c.batch[j], *(c.covariates[n][j] for n in c.covariates)]) + "\n")
        formula = ("~" + "+".join(c.covariates)) if c.covariates else ""
        rows.append([str(workdir / f"y{k}.tsv"), str(workdir / f"s{k}.tsv"), formula, ",".join(c.numeric),
                     c.ref or "", "TRUE" if c.parametric else "FALSE", "TRUE" if c.mean_only else "FALSE",
                     str(workdir / f"o{k}.tsv")])
    manifest = workdir / "manifest.tsv"
    with open(manifest, "w", encoding="utf-8") as fh:
        fh.write("matrix\tsheet\tformula\tnumeric\tref\tpar\tmean_only\tout\n")
        for r in rows:
            fh.write("\t".join(r) + "\n")
    script = workdir / "combat.R"
    script.write_text(COMBAT_R, encoding="utf-8")
    proc = subprocess.run([rscript, str(script), str(manifest)], capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"R sva::ComBat failed:\n{proc.stderr[-3000:]}")
    out: list[tuple[np.ndarray | None, float | str]] = []
    for k, r in enumerate(rows):
        err = Path(r[-1] + ".error")
        if err.exists():
            if not keep_going:
                raise RuntimeError(f"R sva::ComBat failed on case {k}: {err.read_text().strip()}")
            out.append((None, err.read_text().strip()))
        else:
            out.append((_read_numbers(Path(r[-1])), float(Path(r[-1] + ".seconds").read_text())))
    return out


def r_size_factors(rscript: str, matrices: list[np.ndarray], workdir: Path,
                   prior_count: float = 2.0) -> list[dict[str, np.ndarray]]:
    """Per count matrix: edgeR TMM / upper-quartile factors, DESeq2 size factors, and edgeR log-CPM on TMM
    effective libraries (one R session for all)."""
    workdir.mkdir(parents=True, exist_ok=True)
    for k, counts in enumerate(matrices):
        _write_matrix(workdir / f"counts{k}.tsv", counts)
    script = workdir / "sf.R"
    script.write_text(SIZE_FACTORS_R, encoding="utf-8")
    proc = subprocess.run([rscript, str(script), str(workdir), str(len(matrices)), repr(float(prior_count))],
                          capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"R edgeR/DESeq2 failed:\n{proc.stderr[-3000:]}")
    out = []
    for k in range(len(matrices)):
        f = _read_numbers(workdir / f"f{k}.tsv")
        out.append({"tmm": f[:, 0], "upperquartile": f[:, 1], "deseq2": f[:, 2],
                    "log_cpm": _read_numbers(workdir / f"lc{k}.tsv")})
    return out
