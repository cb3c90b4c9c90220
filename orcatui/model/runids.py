"""Run ids made easy to type: a run is named by its full id or by any unique prefix of it.

Everywhere a run is named (``summary --run``/``--diff``, the run picker) the same rule applies:
an exact id wins over a prefix (``r1`` names run ``r1`` even when ``r10`` exists); otherwise the
prefix must match exactly one run. An unknown or ambiguous name is a :class:`RunIdError` whose
message is one line listing (a bounded number of) the candidates, each shortened to a prefix that
is unique among all runs, so it can be typed as it is shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from orcatui.text import inert

#: At most this many candidates are named in an error message.
MAX_LISTED = 5
#: Candidates are shown by a unique prefix of at least this many characters.
MIN_SHOWN = 8
#: A query longer than this is cut in the error message.
QUERY_SHOWN = 40


class RunIdError(ValueError):
    """A run name that matches no run or several; ``str()`` is the one-line message."""

    def __init__(self, message: str, candidates: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.candidates = tuple(candidates)


def _unique(run_ids: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(r for r in run_ids if isinstance(r, str) and r))


def shortest_unique_prefixes(run_ids: Sequence[str], min_len: int = MIN_SHOWN) -> dict[str, str]:
    """Each id's shortest prefix (at least ``min_len`` characters) that no other id starts with.

    An id that is itself a prefix of another id has no unique proper prefix: it is kept whole.
    Sorting makes this O(n log n): an id's closest rivals are its sorted neighbours.
    """
    ids = sorted(set(run_ids))
    out = {}
    for i, rid in enumerate(ids):
        common = 0
        for j in (i - 1, i + 1):
            if 0 <= j < len(ids):
                other = ids[j]
                n = 0
                limit = min(len(rid), len(other))
                while n < limit and rid[n] == other[n]:
                    n += 1
                common = max(common, n)
        out[rid] = rid[: max(min_len, common + 1)]
    return out


def _shown(rid: str, prefixes: dict[str, str]) -> str:
    short = prefixes.get(rid, rid)
    return inert(short if short == rid else short + "…")


def _listing(candidates: Sequence[str], prefixes: dict[str, str]) -> str:
    shown = [_shown(r, prefixes) for r in candidates[:MAX_LISTED]]
    more = len(candidates) - len(shown)
    if more > 0:
        shown.append(f"and {more} more")
    return ", ".join(shown)


def _query(query: str) -> str:
    text = inert(query)
    return text if len(text) <= QUERY_SHOWN else text[: QUERY_SHOWN - 1] + "…"


def resolve_run_id(query: str, run_ids: Iterable[str]) -> str:
    """The one run id that ``query`` names: an exact id, else the only id it is a prefix of.

    ``run_ids`` in the order candidates should be listed (newest first, as the picker shows them).
    Raises :class:`RunIdError` with a one-line message when no run or several runs match.
    """
    ids = _unique(run_ids)
    if not isinstance(query, str) or not query:
        raise RunIdError("empty run id")
    if query in ids:
        return query
    matches = [r for r in ids if r.startswith(query)]
    if len(matches) == 1:
        return matches[0]
    prefixes = shortest_unique_prefixes(ids)
    if not matches:
        listing = _listing(ids, prefixes) if ids else "none"
        raise RunIdError(f"no run matches '{_query(query)}' (runs: {listing})", ids)
    raise RunIdError(
        f"'{_query(query)}' matches {len(matches)} runs: {_listing(matches, prefixes)}", matches
    )
