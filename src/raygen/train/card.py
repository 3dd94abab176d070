"""Model card (README.md) for a pretrained model dir: what it was trained on, how long, how well."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

from raygen import __version__
from raygen.models.arch import get_recipe
from raygen.provenance import file_sha256, git_commit


def _fmt_regions(regions: list, limit: int = 20) -> str:
    lines = [f"- {c}:{s}-{e} ({e - s:,} bp)" for c, s, e in regions[:limit]]
    if len(regions) > limit:
        lines.append(f"- ... and {len(regions) - limit} more")
    return "\n".join(lines) or "- (none)"


def write_model_card(path: Path, job, summary: dict, extra: dict) -> None:
    """Write the card for a :class:`raygen.train.pretrain.PretrainJob` and its final metrics."""
    recipe = get_recipe(job.config.arch)
    val = summary.get("val_bits_per_base")
    bp_train = sum(e - s for _, s, e in job.train_regions)
    bp_val = sum(e - s for _, s, e in job.val_regions)
    rows = "\n".join(f"| {k} | {v:.4f} |" for k, v in (extra.get("baselines") or {}).items())
    text = f"""---
library_name: transformers
tags: [dna, genomics, raygen, {'fill-mask' if job.config.objective == 'mlm' else 'text-generation'}]
---
# raygen DNA language model ({job.config.arch}, {job.config.objective})

Trained from scratch with `raygen train pretrain` (Ray Train, {extra.get('workers', '?')} worker(s)).
Load it with plain transformers: `AutoModelFor{'MaskedLM' if job.config.objective == 'mlm' else 'CausalLM'}.from_pretrained(DIR)`
and `AutoTokenizer.from_pretrained(DIR)`; score variants with `raygen score --model DIR`.

## Model
- Architecture: stock transformers `{recipe.family}`, {recipe.layers} layers x {recipe.hidden} hidden, {recipe.heads} heads,
  feed-forward {recipe.ffn} ({recipe.description}); objective `{job.config.objective}`.
- Tokenizer: single nucleotide (`A C G T N` + `[PAD] [UNK] [CLS] [SEP] [MASK]`), inputs are `[CLS] bases [SEP]`.
- Training context: {job.config.context} bp windows, reverse-complement augmented, windows with > {job.config.max_n_fraction:.0%} N skipped.

## Data
- Reference: `{Path(job.reference).name}` (SHA-256 `{file_sha256(job.reference)}`; the file name only, so a
  shared card does not disclose where the trainer's files live)
- Training regions ({bp_train:,} bp, validation blocks removed):
{_fmt_regions(job.train_regions)}
- Held-out validation blocks ({bp_val:,} bp, never trained on):
{_fmt_regions(job.val_regions)}

## Training
- Steps: {summary.get('step')} ({summary.get('tokens', 0):,} tokens), training time {summary.get('train_s', 0):.0f} s
  (wall {summary.get('wall_s', 0):.0f} s); batch {job.config.batch_size} windows per worker; AdamW peak lr {job.config.lr}
  (betas {job.config.adam_betas}, weight decay {job.config.weight_decay}, gradient norm clipped at {job.config.grad_clip_norm}),
  warm-up {job.config.warmup_fraction:.0%} then cosine decay over {'the time budget of ' + format(job.config.time_limit_s, '.0f') + ' s or ' if job.config.time_limit_s else ''}{job.config.steps} steps.
- Validation bits per base (masked-base prediction on held-out blocks; 2.0 = uniform):
  **{'n/a' if val is None else format(val, '.4f')}**
{('''
## Baselines (same held-out positions)
| predictor | bits/base |
|---|---|
''' + rows) if rows else ''}
## Provenance
- Date: {_dt.datetime.now(_dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}
- raygen {__version__}, git commit {git_commit()}
- Seed: {job.config.seed}
"""
    path.write_text(text, encoding="utf-8")
