"""bcftools' filtering expressions (``-i/--include``, ``-e/--exclude``), compiled once and evaluated per record.

``Expression(text, header)`` compiles (raising :class:`ExprError`, a usage error naming the token, for what
it cannot evaluate); ``.passes(rec)`` tests one :class:`raygen.normalize.bcfrec.Rec`, ``.mask(table,
header)`` a whole text table (:data:`raygen.schema.TEXT_SCHEMA` columns), vectorised for the expression
shapes :mod:`raygen.expr.vector` knows and record by record otherwise. Semantics are bcftools 1.24's
(see :mod:`raygen.expr.compile` and :mod:`raygen.expr.evaluate`), checked against ``bcftools view``.
"""

from raygen.expr.expression import Expression
from raygen.expr.lexer import ExprError

__all__ = ["Expression", "ExprError"]
