"""Every tunable default in one typed place.

The CLI builds its flags' defaults from these dataclasses and the Serve configs name the same fields, so
a default changes here and nowhere else. Units are in the field names or comments; genomic positions in
configs are 1-based like VCF unless a name says ``start0``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

#: Environment that keeps Ray, Hugging Face and Gradio quiet and offline-safe on a laptop or CI box.
#: Applied with ``setdefault`` so a user's explicit settings win.
QUIET_ENV: dict[str, str] = {
    "RAY_USAGE_STATS_ENABLED": "0",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "TOKENIZERS_PARALLELISM": "false",
}


@dataclass(frozen=True)
class RuntimeConfig:
    """Where jobs run: an existing cluster (``address``) or an embedded local Ray sized to the machine."""

    address: str | None = None  # None: RAY_ADDRESS if set, else start a local Ray
    num_cpus: int | None = None  # local Ray only; None = all cores
    num_gpus: int | None = None  # local Ray only; None = autodetect
    include_dashboard: bool = False  # the dashboard costs ~1 GB RSS and a second of start-up
    object_store_memory: int | None = None  # bytes; None = Ray's default (30% of RAM)
    connect_timeout_s: float = 15.0  # seconds; an explicit --address that does not answer in time fails with one line
    log_to_driver: bool = True  # local Ray only: print the workers' and replicas' logs here (benchmarks turn it off)
    # local Ray only: the HTTP front of Serve (raygen.httpfront): haproxy (Ray's HAProxy mode, replicas parse HTTP
    # themselves), proxy (Serve's Python proxy) or auto (haproxy where a binary is found); $RAYGEN_HTTP_FRONT sets it
    http_front: str = field(default_factory=lambda: os.environ.get("RAYGEN_HTTP_FRONT", "auto"))


@dataclass(frozen=True)
class SimulateConfig:
    """Synthetic genome, truth variants and reads (``raygen simulate``)."""

    length: int = 200_000  # total reference length in bp, spread over ``contigs``
    seed: int = 1
    contigs: int = 3
    coverage: float = 0.0  # mean read depth; 0 = no BAM
    read_length: int = 150  # bp per mate
    fragment_mean: int = 400  # bp, insert size mean
    fragment_sd: int = 50
    snv_rate: float = 1e-3  # per bp
    indel_rate: float = 2e-4  # per bp
    mnp_rate: float = 2e-5  # per bp
    multiallelic_fraction: float = 0.05  # of SNV and repeat-indel sites that get a second ALT
    samples: int = 1
    phased: bool = True  # GT written as 0|1 (haplotype order) rather than 0/1
    error_rate: float = 0.002  # mean per-base sequencing error (matches the mean of 10^(-Q/10))
    n_gap_fraction: float = 0.01  # of each contig, as a few runs of N
    denormalize: bool = False  # also write truth.denorm.vcf.gz: indels right-shifted / padded
    chunk_bp: int = 1_000_000  # read simulation is sharded on Ray by chunks of this size
    bam_compression_level: int = 1  # zlib level of reads.bam: 1 writes ~2x faster than 6, ~3% larger
    isochore_mean_bp: int = 20_000  # mean length of constant-GC segments
    homopolymer_rate: float = 1 / 400  # homopolymer tracts (6-16 bp) per bp
    str_rate: float = 1 / 600  # short tandem repeats (unit 2-6, 3-12 copies) per bp
    repeat_indel_fraction: float = 0.6  # of indels placed in homopolymers / STRs (left-alignment matters)
    max_indel_len: int = 10  # bp, for indels outside repeats
    # a `raygen profile` JSON: reads get that BAM's qualities, miscall rates and repeat indel errors
    # (raygen.simulate.profiled); error_rate is then unused
    error_profile: str = ""


@dataclass(frozen=True)
class ScoreConfig:
    """Zero-shot variant scoring (``raygen score`` and the HTTP scorer)."""

    window: int = 128  # reference bases around the variant fed to the model
    batch_size: int = 64  # windows (sequences) per model forward pass
    rows_per_batch: int = 1024  # VCF records per Ray Data batch handed to one scorer actor
    actors: int = 1  # scorer actors in the Ray Data pool
    cpus_per_actor: float = 0.5  # fractional so read/write tasks still get CPU on a 2-core box
    gpus_per_actor: float = 0.0
    # torch CPU threads per scorer actor; 0 = auto: a one-node Ray's CPUs shared among the actors (the
    # reservation above is fractional so reads are never starved, but the forward passes may use every core),
    # on a multi-node cluster round(cpus_per_actor), at least 1
    threads_per_actor: int = 0
    reverse_complement: bool = False  # average the score with the reverse-complement strand
    shard_bp: int = 5_000_000  # genomic shard size of the region-sharded VCF read, in bp
    # records from which `raygen score` runs as a Ray Data job when nothing else asks for Ray (a cluster, GPUs,
    # --actors > 1, --ray); below it, in process: Ray's fixed costs (its start, actor processes importing torch
    # and loading the model) outweigh what an actor pool gains on one machine (docs/spliceai.md, "Where the
    # time goes")
    ray_min_records: int = 2000


@dataclass(frozen=True)
class SpliceAIConfig:
    """SpliceAI scoring (``raygen score --model spliceai``): the release's options plus how we compute them."""

    annotation: str = ""  # grch37 | grch38 (the wheel's GENCODE V24 tables) | a gene table file; required
    distance: int = 50  # D: bases each side of the variant scored (the release's -D, 0..4999)
    mask: bool = False  # the release's -M 1: mask annotated-site gains and unannotated-site losses
    # REF tracks: computed once per gene span and shared by its variants (raygen.scoring.spliceai_tracks).
    # auto = cluster on CPU (variants closer than merge_bp share one forward, spans of at most max_span_bp
    # output bases), grid on GPUs (fixed tiles of tile_bp output bases: every forward has the same shape)
    ref_spans: str = "auto"
    merge_bp: int = 6000
    max_span_bp: int = 20_000
    tile_bp: int = 1000
    batch_size: int = 32  # ALT windows of one allele shape per forward pass
    precision: str = "fp32"  # fp32 (identical to the release) | bf16 (faster on GPUs, scores differ)


@dataclass(frozen=True)
class PretrainConfig:
    """Default DNA-LM pretraining recipe (``raygen train pretrain``)."""

    arch: str = "raygen-small"  # a name in raygen.models.arch.RECIPES
    objective: str = "mlm"  # "mlm" (masked) or "clm" (causal)
    context: int = 128  # bases per training window
    workers: int = 2
    cpus_per_worker: float = 1.0  # also the torch thread count per worker (at least 1)
    gpus_per_worker: float = 0.0
    steps: int = 100_000  # upper bound; --time-limit usually ends a CPU run first
    time_limit_s: float | None = None  # training-loop seconds (carried across restarts); None = steps only
    batch_size: int = 32  # windows per worker per step (2 CPU workers: global batch 64)
    lr: float = 2e-3  # peak AdamW learning rate
    warmup_fraction: float = 0.03  # of the run (steps or time budget), linear warm-up before cosine decay to 0
    warmup_start_factor: float = 0.01  # learning rate of the first warm-up steps, as a fraction of ``lr``
    weight_decay: float = 0.01
    adam_betas: tuple[float, float] = (0.9, 0.98)  # AdamW; beta2 below torch's 0.999, as RoBERTa's recipe has it
    adam_eps: float = 1e-8
    grad_clip_norm: float = 1.0  # gradient L2 norm clipped to this before every step
    mixed_precision: bool = True  # bf16 autocast on GPU workers (CPU workers always run float32)
    mask_prob: float = 0.15
    max_n_fraction: float = 0.05  # windows with more N than this are skipped
    val_fraction: float = 0.02  # of sequence held out for validation, as whole blocks
    block_bp: int = 100_000  # validation blocks are whole blocks of this size
    val_windows: int = 1000  # held-out windows scored at each checkpoint
    checkpoint_every: int = 200  # steps; the held-out blocks are scored at every checkpoint
    checkpoints_kept: int = 2  # newest checkpoints kept in DIR/train_state
    max_failures: int = 3  # worker failures Ray Train recovers from (from the latest checkpoint)
    seed: int = 0


@dataclass(frozen=True)
class FinetuneConfig:
    """Supervised variant-effect head fine-tuning (``raygen train finetune``)."""

    epochs: int = 60  # upper bound; early stopping usually ends sooner
    batch_size: int = 64
    lr: float = 1e-3  # AdamW (torch's default betas and eps)
    weight_decay: float = 0.01
    hidden_units: int = 32  # MLP width of the head; 0 = logistic regression on the features
    patience: int = 6  # epochs without validation AUROC improvement before early stopping
    min_improvement: float = 1e-4  # validation AUROC gain that counts as an improvement
    temperature_range: tuple[float, float] = (0.05, 20.0)  # calibration temperatures searched (log-spaced grid)
    temperature_steps: int = 241
    val_fraction: float = 0.2  # of genomic regions, never of random variants
    region_bp: int = 10_000  # variants are grouped into regions of this size for the split
    cpus: float = 0.5  # of the one Ray Train worker: the head is small, and the driver keeps a CPU
    seed: int = 0


@dataclass(frozen=True)
class ServeConfig:
    """The HTTP service's options, one object for every way in: ``raygen serve --FIELD-NAME`` flags, the
    ``args:`` of a serve config (serve_configs/*.yaml; ``http_options`` give host and port) and
    ``run_service``. :func:`raygen.serve.options.serve_config` builds it from a dict (types checked, unknown
    names refused); :meth:`__post_init__` checks every rule, once. Batch settings are the Scorer's starting
    ``user_config`` (a serve config's ``deployments: [{name: Scorer, user_config: ...}]`` changes them live).
    """

    model: str = ""  # model directory (save_pretrained), hub id or spliceai; required to serve; the default model
    more_models: tuple[str, ...] = ()  # served next to `model` (`raygen serve --model A --model spliceai`)
    reference: str = ""  # indexed reference FASTA the variants refer to; required to serve
    window: int = ScoreConfig.window  # reference bases around a variant fed to the model
    revision: str | None = None  # hub revision (commit/tag) to pin
    trust_remote_code: bool = False
    device: str = "auto"  # auto, cpu, cuda
    reverse_complement: bool = ScoreConfig.reverse_complement
    host: str = "127.0.0.1"
    port: int = 8000
    app_name: str = "raygen"
    max_batch_size: int = 32  # variants per model batch across requests
    batch_wait_timeout_s: float = 0.005
    max_ongoing_requests: int = 64  # per replica; at least max_batch_size, or batches never fill
    # beyond this Serve answers 503 at once (-1: unbounded). Small on purpose: a long queue turns overload into
    # client timeouts (benchmarks/serve_overload.py: 256 queued -> half the requests at 2x load timed out)
    max_queued_requests: int = 16
    retry_after_s: float = 1.0  # Retry-After (seconds, rounded up) on those 503 answers; 0: no header
    # scoring admits only the variants in flight it answers within this many times its unloaded latency (the
    # ingress learns both: raygen.serve.admission); the rest get 503 + Retry-After at once. 0: off
    admission_factor: float = 2.0
    # a Scorer call slower than this, and than 4x what the admission gate expects of it, counts as a dead or hung
    # replica: 503, and one request at a time probes until it answers (Serve would hold requests until a
    # replacement replica has loaded the model). 0: wait as long as Serve does
    scorer_stall_s: float = 5.0
    max_variants_per_request: int = 1000  # more in one request gives 413
    max_body_bytes: int = 1_000_000  # request bodies on /v1/* above this give 413
    token_env: str | None = "RAYGEN_API_TOKEN"  # bearer token, if set, is required on /v1/* (and as the /ui password)
    token_file: str | None = None  # file holding the bearer token (first line)
    token_sha256: str | None = None  # the token's SHA-256 (what travels to the replicas)
    scorer_replicas: int = 1
    scorer_cpus: float = 1.0  # per scorer replica (torch threads follow it)
    scorer_gpus: float = 0.0  # per scorer replica
    ingress_cpus: float = 0.25  # the HTTP/UI replica mostly waits on the scorer
    ui: bool = True  # the Gradio UI at /ui
    ism_flank: int = 20  # UI heatmap: bases each side of the variant mutated to every other base
    ism_max_flank: int = 50
    data_dirs: tuple[str, ...] = ()  # POST /v1/call may read BAMs under these; empty: it refuses every path
    call_model: str = "classical"  # POST /v1/call: classical, or a `raygen train caller` model dir
    max_call_bp: int = 200_000  # POST /v1/call: larger regions give 413 (use `raygen call` for genomes)
    caller_cpus: float = 0.5  # per caller replica (only started with data_dirs)
    caller_max_ongoing_requests: int = 4  # calls run on a small thread pool; more wait in the queue
    pileup_flank: int = 40  # UI calling tab: bases each side of the chosen call in the pileup picture
    pileup_max_reads: int = 60  # UI calling tab: reads drawn (evenly subsampled beyond this)
    call: CallConfig = field(default_factory=lambda: CallConfig())  # how POST /v1/call and the UI call
    spliceai: SpliceAIConfig = field(default_factory=lambda: SpliceAIConfig())  # a served spliceai (annotation required)
    drift_profile: str | None = None  # `raygen assess --write-profile` JSON: GET /metrics reports drift against it

    def __post_init__(self) -> None:
        minimum = {"window": 8, "port": 0, "max_batch_size": 1, "batch_wait_timeout_s": 0, "max_ongoing_requests": 1,
                   "max_queued_requests": -1, "retry_after_s": 0, "admission_factor": 0, "scorer_stall_s": 0,
                   "max_variants_per_request": 1, "max_body_bytes": 1024,
                   "scorer_replicas": 1, "scorer_cpus": 0, "scorer_gpus": 0, "ingress_cpus": 0, "ism_flank": 1,
                   "ism_max_flank": 1, "max_call_bp": 1, "caller_cpus": 0, "caller_max_ongoing_requests": 1,
                   "pileup_flank": 1, "pileup_max_reads": 1}
        for name, low in minimum.items():
            if getattr(self, name) < low:
                raise ValueError(f"{name} must be at least {low}, not {getattr(self, name)}")
        if self.max_ongoing_requests < self.max_batch_size:
            raise ValueError(f"max_ongoing_requests ({self.max_ongoing_requests}) must be >= max_batch_size "
                             f"({self.max_batch_size}), or batches can never fill")


#: Serve logging of every raygen deployment and of Serve itself: our own JSON request log replaces the access
#: log, which would otherwise flood the driver with one line per request.
SERVE_LOGGING = {"enable_access_log": False, "log_level": "WARNING"}


@dataclass(frozen=True)
class CallConfig:
    """Variant calling from BAM (``raygen call``, ``raygen train caller``, POST /v1/call)."""

    # 250 kb: a 30x call peaks at 0.64 GB, not 1.28 GB (1 Mbp). A worker's first shard grows its heap and the
    # kernel zeroes each fresh page (later shards reuse them), which cost ~25% of the CPU of the speed
    # benchmark at 1 Mbp; calls do not depend on the shard size (tests/calling/test_call.py).
    shard_bp: int = 250_000
    margin_bp: int = 300  # reads fetched this far beyond each shard so calls near edges see all reads
    cpus_per_shard: float = 1.0  # Ray CPUs reserved per `raygen call` shard task
    min_base_quality: int = 10  # bases below this are not counted
    min_mapping_quality: int = 10  # reads below this are skipped
    # both mates of a pair reading one position are one molecule: the base counts once (bcftools mpileup's
    # default; False: both count, its -x)
    mate_overlap: bool = True
    max_base_quality: int = 40  # caps the base-quality error model (Phred)
    max_mapping_quality: int = 60  # caps the mapping-error term (Phred)
    min_alt_count: int = 2  # reads supporting an allele before it becomes a candidate
    min_alt_fraction: float = 0.12  # of informative reads
    max_indel_shift: int = 200  # bp of reference kept beyond the fetch window for left-aligning indels
    snv_het_prior: float = 1e-3  # P(het) per site, SNVs
    snv_hom_prior: float = 5e-4  # P(hom-alt) per site, SNVs
    indel_het_prior: float = 1.25e-4
    indel_hom_prior: float = 6.25e-5
    indel_error: float = 5e-4  # per-read P(spurious/missed indel) outside repeats
    indel_error_per_repeat_bp: float = 5e-4  # added per bp of the repeat tract the indel sits in
    max_indel_error: float = 0.1
    artifact_weight: float = 0.003  # P(a site's reads follow the systematic-artifact model) in the classical caller
    artifact_fraction: float = 0.05  # read fraction showing the other allele under that model
    cluster_window: int = 30  # bp each side: low-VAF het SNVs with >= cluster_min_sites low-VAF sites around -> LowQual
    cluster_min_sites: int = 3
    cluster_max_vaf: float = 0.33
    # het SNV calls whose ALT and REF reads' mean MAPQs < paralog_max_mapq, with >= paralog_min_sites such SNV sites
    # within cluster_window bp -> LowQual;LowMQ;Paralog (PSVs of segmental duplications; 0 sites: off).
    # Set from the simulator's MAPQ-29 mode and SnpCluster's window; checked on simulated seeds 171, 161. The REF
    # condition was chosen after reading NA12878's held-out false negatives (docs/call.md, step 4).
    paralog_max_mapq: float = 30.0
    paralog_min_sites: int = 3
    # site model: SNVs with fewer ALT reads than this get fixed strand features (sitemodel.MUTED_STRAND; a strand
    # test on 2 reads has no power), in training and calling; 0: off
    strand_min_alt: int = 3
    min_qual: float = 10.0  # classical QUAL below this (non-ref genotype) -> FILTER LowQual (site model: a rescue candidate)
    # With a site model QUAL is -10 log10 P(not real) by that model, and a PASS call needs this QUAL (None: the
    # threshold the model's cross-validation chose on its own training data)
    site_min_qual: float | None = None
    site_model: str = "default"  # QUAL/FILTER recalibration: the shipped model, a site_model.json path, or "none"
    # error profile measured on the BAM itself before calling (raygen.calling.profile): quality calibration,
    # indel error per repeat length, artifact and het allele-fraction priors; False: the fixed defaults above
    self_profile: bool = True
    profile_max_bp: int = 200_000  # bp of evenly spaced windows the profile reads at most (per call; 200 kb at 30x
    # is ~6M bases at clean sites, plenty for every table, and keeps the profile a small share of a call)
    max_gq: int = 99
    window: int = 33  # pileup tensor width in bp, centred on the candidate
    max_reads: int = 64  # pileup tensor height (reads beyond this are subsampled deterministically)
    tensor_channels: int = 8  # base, BQ, MAPQ, strand, supports-alt, mismatch, ref base, indel marker
    train_min_alt_fraction: float = 0.05  # looser candidate threshold when training: more negatives to learn from
    train_epochs: int = 8  # `raygen train caller`
    train_batch_size: int = 128
    train_lr: float = 2e-3  # AdamW (torch's default betas and eps)
    train_weight_decay: float = 1e-4
    train_class_weight_cap: float = 10.0  # classes are weighted by inverse frequency, capped at this
    train_val_batch_size: int = 256  # candidates per validation forward pass (memory only, same numbers)
    train_workers: int = 2  # Ray Train workers
    train_cpus_per_worker: float = 1.0
    train_seed: int = 0
    val_fraction: float = 0.2  # of shards (regions), never of random candidates
    train_shard_bp: int = 100_000  # region size for the validation split and training shards


@dataclass(frozen=True)
class NormalizeConfig:
    """Variant normalization (``raygen normalize``)."""

    shard_bp: int = 5_000_000  # region size of one Ray Data shard
    ray_min_bytes: int = 1 << 30  # compressed input size from which an indexed input runs on Ray by default
    cpus_per_shard_task: float = 0.5  # per normalizer actor; fractional so read/write tasks still get CPU on a 2-core box
    max_actors: int = 2  # normalizer actors in the Ray pool at most (also for `raygen score --normalize`)
    batch_rows: int = 200_000  # records per block read (in-process and by each Ray read task)
    block_threads: int = 2  # in process, .vcf.gz out: threads normalizing blocks side by side (1: one at a time)
    # in process, .vcf.gz out: records per block read. Smaller than batch_rows because that run streams block
    # by block: the first block starts normalizing, and the last one is written, that much sooner
    stream_batch_rows: int = 50_000


@dataclass(frozen=True)
class AnnotateConfig:
    """Annotation joins (``raygen annotate``): the query is normalized and sharded as ``raygen normalize`` does."""

    shard_bp: int = 5_000_000  # region size of one Ray Data shard of the query
    ray_min_bytes: int = 64 << 20  # compressed query size from which an indexed query runs on Ray by default
    max_source_rejected: float = 0.05  # a source with more of its records rejected (REF/contig mismatches) is refused
    cpus_per_task: float = 0.25  # per annotator actor (an Arrow join: light; read tasks and normalizers keep the CPUs)
    max_actors: int = 2  # annotator actors in the Ray pool at most


@dataclass(frozen=True)
class CohortConfig:
    """Copy-number cohort normalization (``raygen cohort ...``, CNVkit-compatible)."""

    shard_bp: int = 20_000_000  # coverage: bins per Ray task cover at most this much of one contig
    min_mapq: int = 0  # coverage: reads below this MAPQ are not counted (CNVkit's default)
    target_avg_size: float = 200 / 0.75  # bp, split targets (CNVkit's default)
    antitarget_avg_size: int = 150_000  # bp
    reference_chunk_bins: int = 20_000  # reference: bins per reduce task (memory: normals x this x 16 B x ~6)
    ray_min_samples: int = 8  # reference / fix / segment / call run on Ray from this many samples (or --ray)
    cpus_per_task: float = 0.5  # fractional so Ray Data read/write tasks still get CPU on a 2-core box
    segment_method: str = "cbs"
    segment_threshold: float = 1e-4  # CBS p-value / HaarSeg FDR q
    scatter_dpi: int = 110


@dataclass(frozen=True)
class CohortBatchConfig:
    """Batch-effect correction (``raygen cohort combat``, ``combat-apply``, ``size-factors``, ``assess``)."""

    shard_bytes: int = 32 << 20  # float64 bytes of one feature shard on Ray (rows = shard_bytes / (8 x samples))
    ray_min_bytes: int = 256 << 20  # input file size from which --engine auto runs on Ray
    cpus_per_task: float = 0.5  # per Ray Data shard task; fractional so the driver's work is never starved
    conv: float = 1e-4  # sva it.sol convergence (largest relative change of gamma/delta over all features)
    drift_bins: int = 10  # reference distribution per feature: deciles of the corrected training data
    psi_alert: float = 0.25  # a feature's PSI above this counts as drifted ("significant shift")
    drift_max_fraction: float = 0.10  # assess --against fails when more features than this have drifted
    drift_null_quantile: float = 0.99  # a feature drifts past this quantile of its no-drift PSI (batch size, bins)
    drift_judge_max_psi: float = 1.0  # a batch whose no-drift cut exceeds this is too small to judge
    drift_null_reps: int = 2000  # simulated no-drift PSIs per batch size
    prior_count: float = 2.0  # log-CPM prior count (edgeR's default)
    pca_components: int = 20  # assess: metrics are computed on this many principal components
    kbet_alpha: float = 0.05  # kBET: a neighbourhood is accepted when its chi-square p-value is >= this
    lisi_perplexity: float = 30.0  # LISI (Korsunsky 2019): capped at (samples - 1) / 3 for small cohorts
    classifier_folds: int = 5  # assess: cross-validated AUROC of a logistic-regression label classifier
    seed: int = 0


@dataclass(frozen=True)
class VaeConfig:
    """Conditional-VAE batch corrector (``raygen cohort vae-train``/``vae-correct``)."""

    latent: int = 10  # latent dimensions
    hidden: int = 128  # units of the encoder's and decoder's hidden layers
    epochs: int = 400  # upper bound; --time-limit may stop sooner
    batch_size: int = 128  # samples per worker per step
    lr: float = 1e-3  # AdamW learning rate
    weight_decay: float = 1e-4
    beta_kl: float = 2.0  # weight of the KL term (after warm-up); chosen on simulation seed 100 (more mixing)
    kl_warmup_epochs: int = 50  # the KL weight ramps linearly from 0 over these epochs
    # weight of the batch adversary on the latent (gradient reversal); 0 = a plain conditional VAE, which mixed
    # better and kept as much biology as any adversary weight tried on simulation seed 100 (0.3-5)
    adversary_weight: float = 0.0
    dropout: float = 0.1
    workers: int = 2  # Ray Train workers (DDP ranks)
    cpus_per_worker: float = 1.0
    gpus_per_worker: float = 0.0
    checkpoint_every: int = 25  # epochs
    max_failures: int = 2
    correct_mode: str = "decode"  # vae-correct: "decode" (posterior mean as the reference batch) or "residual"
    seed: int = 0


@dataclass(frozen=True)
class AssessConfig:
    """Score assessment, evidence thresholds, drift and reports (``raygen assess``, ``drift``, ``report``)."""

    bootstrap: int = 1000  # Poisson-bootstrap replicates behind every confidence interval (seeded)
    ci_level: float = 0.95
    calibration_bins: int = 10  # equal-width probability bins of ECE and the reliability diagram
    min_slice_variants: int = 30  # a slice with fewer labelled variants reports "too few" instead of a number
    min_slice_class: int = 5  # ... or with fewer than this many positives or negatives
    min_stratum_variants: int = 10  # call sets: a stratum with fewer truth variants or calls says so
    gc_window: int = 100  # bp of reference centred on REF for the GC slice and the GC drift feature
    threshold_window_fraction: float = 0.1  # local likelihood ratio window, as a fraction of the labelled set
    threshold_min_window: int = 50  # ... and at least this many variants
    threshold_bootstrap: int = 500
    spliceai_pp3: float = 0.2  # SpliceAI max delta score for PP3 (splicing), ClinGen SVI: Walker et al. 2023
    spliceai_bp4: float = 0.1  # ... at or below which BP4 applies
    profile_bins: int = 10  # drift profile: deciles of each numeric feature in the baseline
    profile_quantiles: int = 1001  # baseline quantiles kept per feature for the KS statistic
    psi_threshold: float = 0.25  # raygen drift: PSI above this is drift ("significant shift")
    ks_threshold: float = 0.1  # raygen drift: KS statistic above this is drift
    min_drift_values: int = 50  # features with fewer values on either side are reported, not judged
    seed: int = 0


@dataclass(frozen=True)
class EvaluateConfig:
    """Truth comparison (``raygen evaluate``; :mod:`raygen.eval.haplotype`, :mod:`raygen.eval.qualcurve`)."""

    window: int = 30  # bp: alleles closer than this (start after the cluster's end) are replayed together
    max_cluster_side: int = 12  # alleles per side a cluster may hold for replay (2**n subsets); above: allele keys
    max_genotype_side: int = 8  # matched alleles per side for the genotype search (3**n); above: not compared
    qual_curve_points: int = 200  # QUAL thresholds in the curve at most (quantiles of the calls' QUAL above)
    gc_window: int = 100  # bp of reference centred on REF for the GC strata (as AssessConfig.gc_window)
    repeat_flank: int = 60  # bp of reference each side of a variant searched for its homopolymer / STR


@dataclass(frozen=True)
class Config:
    """All sections together, as the CLI and Serve see them."""

    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    simulate: SimulateConfig = field(default_factory=SimulateConfig)
    score: ScoreConfig = field(default_factory=ScoreConfig)
    spliceai: SpliceAIConfig = field(default_factory=SpliceAIConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    serve: ServeConfig = field(default_factory=ServeConfig)
    call: CallConfig = field(default_factory=CallConfig)
    normalize: NormalizeConfig = field(default_factory=NormalizeConfig)
    annotate: AnnotateConfig = field(default_factory=AnnotateConfig)
    cohort: CohortConfig = field(default_factory=CohortConfig)
    cohort_batch: CohortBatchConfig = field(default_factory=CohortBatchConfig)
    vae: VaeConfig = field(default_factory=VaeConfig)
    assess: AssessConfig = field(default_factory=AssessConfig)
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)


DEFAULTS = Config()


def apply_quiet_env() -> None:
    """Set :data:`QUIET_ENV` entries that the user has not set."""
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)
