"""The deployment classes themselves (their Python classes, called without Ray): what the options reach."""

from __future__ import annotations

import asyncio

import pytest

from raygen.config import CallConfig
from raygen.serve.deployments import CallerDeployment

BAM = "NA12878_S1.chr20.10_10p1mb.bam"
FA = "ucsc.hg19.chr20.unittest.fasta.gz"
REGION = "chr20:10000000-10020000"


@pytest.mark.timeout(120)
def test_caller_calls_with_the_servers_call_config(shared_data):
    """ServeConfig.call reaches the caller: a server without a site model and with min_qual above every QUAL
    passes nothing (with the site model such calls would be rescue candidates)."""
    giab = shared_data / "giab_chr20"
    plain = CallerDeployment.func_or_class(str(giab / FA), "classical")
    strict = CallerDeployment.func_or_class(str(giab / FA), "classical", CallConfig(min_qual=1e6, site_model="none"))
    default = asyncio.run(plain.call(str(giab / BAM), REGION))
    tuned = asyncio.run(strict.call(str(giab / BAM), REGION, vcf=True))
    assert default["counts"].get("PASS", 0) >= 5
    assert "PASS" not in tuned["counts"] and sum(tuned["counts"].values()) == sum(default["counts"].values())
    assert "PASS\t" not in tuned["vcf"].split("#CHROM")[1]
