"""Greek text analysis for the Whoosh index: :mod:`eprotocol.core.greek` as Whoosh filters.

The :data:`PHONETIC` analyzer also folds the vowels Latin spelling does not
distinguish (see :func:`~eprotocol.core.greek.sounds`); the index keeps a field
analysed that way for queries typed in Latin letters.

Whoosh pickles the schema with its analyzers: everything here is module-level
and importable, and no stemmer object is stored on an instance.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from whoosh.analysis import Filter, RegexTokenizer

from eprotocol.core.greek import WORD, is_latin, latin_sounds, sounds, terms


class GreekFilter(Filter):  # type: ignore[misc]
    """Whoosh filter: fold, drop stop words, transliterate Latin, stem.

    With ``phonetic`` the stems' vowels are folded as well (see :func:`sounds`).
    """

    #: Raised whenever a word's terms change (2: the ι of -ιο, -ιος; 3: ευ, αυ, β and a
    #: final ι in the phonetic terms; 4: doubled consonants, νδ, γκ in them). The index
    #: stores the filter with its version: one made by another version is rebuilt.
    version = 4

    def __init__(self, *, phonetic: bool = False) -> None:
        self.phonetic = phonetic

    def __getstate__(self) -> dict[str, object]:
        return {"phonetic": self.phonetic, "version": self.version}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.phonetic = state["phonetic"]
        self.version = state.get("version", 1)  # indexes made before there were versions

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, GreekFilter)
            and other.phonetic == self.phonetic
            and other.version == self.version
        )

    def __hash__(self) -> int:
        return hash((GreekFilter, self.phonetic, self.version))

    def __call__(self, tokens: Iterator[Any]) -> Iterator[Any]:
        """Rewrite each token's text; drop stop words.

        In a phonetic query, a word typed in Latin letters gives one token for each
        Greek spelling it may stand for (the field ORs them, see ``multitoken_query``).
        """
        for token in tokens:
            if self.phonetic and token.mode == "query" and is_latin(token.text):
                for variant in sorted(latin_sounds(token.text)):
                    token.text = variant
                    yield token
                continue
            term = terms(token.text)
            if term is None:
                continue
            token.text = sounds(term) if self.phonetic else term
            yield token


#: The analyzer of Greek text fields.
GREEK = RegexTokenizer(WORD.pattern) | GreekFilter()

#: The same, with vowels folded as Latin spelling writes them, for Latin-letter queries.
PHONETIC = RegexTokenizer(WORD.pattern) | GreekFilter(phonetic=True)
