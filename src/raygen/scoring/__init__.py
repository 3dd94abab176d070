"""Zero-shot variant scoring with DNA language models (see :mod:`raygen.scoring.scorer` for definitions).

Pure score math lives in ``windows`` (which windows), ``masked`` / ``causal`` (model outputs), ``annotate``
(INFO fields); :class:`Scorer` ties them to one loaded model; ``pipeline`` is the only Ray code.
"""

from raygen.scoring.masked import masked_site_outputs
from raygen.scoring.scorer import SCORE_DEFINITION, Scorer, ScoreResult

__all__ = ["Scorer", "ScoreResult", "masked_site_outputs", "SCORE_DEFINITION"]
