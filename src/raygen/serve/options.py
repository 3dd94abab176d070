"""The options of the Serve application (the ``args:`` of a serve config, or ``raygen serve`` flags)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from raygen.config import DEFAULTS

S = DEFAULTS.serve


class AppArgs(BaseModel):
    """Arguments of the Serve application (the ``args:`` of a serve config, or ``raygen serve`` flags)."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="model directory (save_pretrained) or hub id")
    reference: str = Field(description="indexed reference FASTA the variants refer to")
    window: int = Field(DEFAULTS.score.window, ge=8, description="reference bases around a variant fed to the model")
    revision: str | None = None
    trust_remote_code: bool = False
    device: str = "auto"
    reverse_complement: bool = DEFAULTS.score.reverse_complement
    max_batch_size: int = Field(S.max_batch_size, ge=1, description="variants per model batch across requests")
    batch_wait_timeout_s: float = Field(S.batch_wait_timeout_s, ge=0)
    max_ongoing_requests: int = Field(S.max_ongoing_requests, ge=1)
    max_queued_requests: int = Field(S.max_queued_requests, ge=-1, description="-1: unbounded")
    max_variants_per_request: int = Field(S.max_variants_per_request, ge=1)
    max_body_bytes: int = Field(S.max_body_bytes, ge=1024)
    token_env: str | None = S.token_env
    token_file: str | None = None
    token_sha256: str | None = None
    scorer_replicas: int = Field(S.scorer_replicas, ge=1)
    scorer_cpus: float = Field(S.scorer_cpus, ge=0)
    scorer_gpus: float = Field(S.scorer_gpus, ge=0)
    ingress_cpus: float = Field(S.ingress_cpus, ge=0)
    ism_flank: int = Field(S.ism_flank, ge=1)
    ui: bool = True
    data_dirs: list[str] = Field(default_factory=list, description="directories whose BAMs POST /v1/call may "
                                 "read (with their subdirectories); empty: /v1/call refuses every path")
    call_model: str = Field(S.call_model, description="classical, or a `raygen train caller` model directory")
    max_call_bp: int = Field(S.max_call_bp, ge=1, description="largest region POST /v1/call accepts (413 above)")
    caller_cpus: float = Field(S.caller_cpus, ge=0)

    @model_validator(mode="after")
    def _check(self) -> "AppArgs":
        if self.max_ongoing_requests < self.max_batch_size:
            raise ValueError(f"max_ongoing_requests ({self.max_ongoing_requests}) must be >= max_batch_size "
                             f"({self.max_batch_size}), or batches can never fill")
        return self
