"""Row iteration over the parameter tables.

``DataFrame.itertuples`` builds a Series for every column and, with pandas 3's string columns, reads
them one element at a time (about 2x slower than this on a parameter table, and the engine walks its
tables a few times per fit); :func:`frame_rows` yields the same named tuples from each column's
``tolist()``.
"""

from __future__ import annotations

from collections import namedtuple


def frame_rows(df):
    """The rows of ``df`` as ``df.itertuples(index=False)`` gives them (named tuples, Python scalars)."""
    cols = list(df.columns)
    row = namedtuple("Pandas", cols, rename=True)
    return map(row._make, zip(*[df[c].tolist() for c in cols]))
