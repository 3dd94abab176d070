"""Which ``bcf1_t`` buffer htslib's synced reader hands out for each record (``bcf_sr_next_line``).

bcftools' filter caches the record's genotypes by the *address* of the record it was given, so a
``TAG[GT]`` subscript evaluated on a record whose tag is absent leaves the cache as it was, and a later
record that arrives in the same buffer reuses genotypes of an older record. Reproducing that needs the
buffer each record is read into: :class:`ReaderSlots` replays ``_reader_fill_buffer`` (read ahead until the
position changes, the buffer array grows by 8), the swap and ``_reader_shift_buffer``. Records are fed as
``(CHROM, POS)`` keys in file order; a batch end is taken as a change of position (the next batch's first
record then fills the place held for it).
"""

from __future__ import annotations


class ReaderSlots:
    def __init__(self) -> None:
        self.buf: list[int] = []  # buffer ids by array index (0: the record handed out)
        self.keys: dict[int, tuple | None] = {}  # buffer id -> key of the record it holds (None: placeholder)
        self.nbuffer = 0
        self.pending_placeholder = False

    def _grow(self) -> None:
        start = len(self.buf)
        self.buf += list(range(start, start + 8))

    def slots(self, keys: list[tuple]) -> list[int]:
        """Buffer id of each record of a batch, in order (state carries over to the next batch)."""
        out: list[int] = []
        it = iter(keys)
        if self.pending_placeholder:  # the first record of this batch takes the read-ahead place
            first = next(it, None)
            if first is not None:
                self.keys[self.buf[self.nbuffer]] = first
                self.pending_placeholder = False
        stream = list(it)
        pos = 0
        while True:
            if self.nbuffer and self.keys.get(self.buf[1]) is None:  # the held place: wait for the next batch
                self.pending_placeholder = True
                break
            pos = self._fill(stream, pos)
            if self.nbuffer == 0:
                break
            if self.keys.get(self.buf[1]) is None:
                self.pending_placeholder = True
                break
            self.buf[0], self.buf[1] = self.buf[1], self.buf[0]
            tmp = self.buf[1]
            for i in range(2, self.nbuffer + 1):
                self.buf[i - 1] = self.buf[i]
            if self.nbuffer > 1:
                self.buf[self.nbuffer] = tmp
            self.nbuffer -= 1
            out.append(self.buf[0])
        return out

    def _fill(self, stream: list[tuple], pos: int) -> int:
        if self.nbuffer and self.keys.get(self.buf[self.nbuffer]) != self.keys.get(self.buf[1]):
            return pos
        while True:
            if len(self.buf) - self.nbuffer <= 1:
                self._grow()
            if pos < len(stream):
                key = stream[pos]
                pos += 1
            else:  # batch end: hold a place for a record at another position
                key = None
            self.keys[self.buf[self.nbuffer + 1]] = key
            self.nbuffer += 1
            if key is None or key != self.keys.get(self.buf[1]):
                return pos
