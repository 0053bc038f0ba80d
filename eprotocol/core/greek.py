"""Greek words for matching: folding, stop words, transliteration, stemming.

Tokens are folded (lower case, no accents or diaeresis, ``ς`` → ``σ``), Greek
stop words are dropped, and the rest are stemmed with the Snowball Greek
stemmer, so «Χανιά», «Χανίων» and «ΧΑΝΙΑ» meet at one stem. Words typed in Latin
letters are first transliterated to Greek (ELOT 743 read backwards), so
«Chania» finds «Χανίων».

Latin spelling cannot tell η, ι, υ, ει, οι apart (all "i"), nor ο from ω, so
:func:`sounds` additionally folds those vowels in the stems.

Used by the search index (:mod:`eprotocol.search.analysis`) and by routing rules;
pure functions on text, no I/O.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import snowballstemmer

_STOP_TEXT = """
    ο η το οι τα του τησ των τον την τουσ τισ ενα ενασ μια μιασ
    και κι ειτε ουτε μητε αλλα ομωσ ενω αν οτι πωσ που ποιοσ
    σε στο στη στην στον στα στουσ στισ στου στησ με για απο προσ κατα μετα
    παρα υπο ωσ εωσ χωρισ αντι δια περι επι ειναι εχει θα να δεν μη μην
    αυτοσ αυτη αυτο αυτοι αυτεσ αυτα αυτου αυτησ αυτων
"""
#: Common Greek words that carry no meaning for search (folded form).
STOP_WORDS = frozenset(_STOP_TEXT.split())

_LATIN = re.compile(r"[a-z]")
#: Latin → Greek, longest sequences first (ELOT 743 read backwards).
_TO_GREEK = [
    ("th", "θ"),
    ("ch", "χ"),
    ("ps", "ψ"),
    ("ks", "ξ"),
    ("ou", "ου"),
    ("eu", "ευ"),
    ("au", "αυ"),
    ("mp", "μπ"),
    ("nt", "ντ"),
    ("gk", "γκ"),
    ("ng", "γγ"),
    ("kh", "χ"),
    ("ph", "φ"),
    ("a", "α"),
    ("b", "μπ"),
    ("c", "κ"),
    ("d", "δ"),
    ("e", "ε"),
    ("f", "φ"),
    ("g", "γ"),
    ("h", "χ"),
    ("i", "ι"),
    ("j", "τζ"),
    ("k", "κ"),
    ("l", "λ"),
    ("m", "μ"),
    ("n", "ν"),
    ("o", "ο"),
    ("p", "π"),
    ("q", "κ"),
    ("r", "ρ"),
    ("s", "σ"),
    ("t", "τ"),
    ("u", "ου"),
    ("v", "β"),
    ("w", "ω"),
    ("x", "ξ"),
    ("y", "υ"),
    ("z", "ζ"),
]
_TO_GREEK_RE = re.compile("|".join(re.escape(latin) for latin, _ in _TO_GREEK))
_TO_GREEK_MAP = dict(_TO_GREEK)
#: "Greeklish", as Greek is typed on a Latin keyboard (dhmos, aithsh, xaniwn, upallhlos): h
#: is η, x is χ, 8 is θ, 3 is ξ, a lone u is υ, b is β. Its "th" is θ or τη (aithsh): both are read;
#: ch, ou, au, eu stay as transliteration writes them (kh and ph are κη and πη here).
_GREEKLISH = {"h": "η", "x": "χ", "8": "θ", "3": "ξ", "u": "υ", "b": "β"}
_GREEKLISH_READINGS = ({**_GREEKLISH, "th": "θ"}, {**_GREEKLISH, "th": "τη"})
_GREEKLISH_RE = re.compile("ch|th|ou|au|eu|[hx83ub]")
_DIGRAPHS = re.compile("ch|th")
#: Letters Latin spelling does not distinguish, folded to one each: the vowels, and ευ, αυ,
#: β, which it writes ef, ev, af, av, v, f alike.
_SOUNDS = [
    ("ευ", "εφ"),
    ("αυ", "αφ"),
    ("β", "φ"),
    ("ει", "ι"),
    ("οι", "ι"),
    ("υι", "ι"),
    ("αι", "ε"),
    ("η", "ι"),
    ("υ", "ι"),
    ("ω", "ο"),
    ("νδ", "ντ"),
    ("γκ", "γ"),
]
#: A doubled consonant sounds single, and Latin spelling often writes it so (katagelia).
_DOUBLED = re.compile(r"([βγδζθκλμνξπρστφχψ])\1")
#: Letters a Latin word leaves in doubt inside it, where the stemmer may cut differently for
#: each (κοινοχρήστου keeps -ηστ-, but -ιστου is a suffix): i is also η, x is also χ.
_IN_DOUBT = (("ι", "η"), ("ξ", "χ"))
#: Endings Latin letters write alike: each as transliterated, and the Greek spellings it
#: may stand for (-is is -ης as often as -ις; Cretan surnames end in -άκης).
_LATIN_ENDINGS = (
    ("ισ", ("ισ", "ησ", "εισ", "οισ", "υσ")),
    ("ον", ("ον", "ων")),
    ("οσ", ("οσ", "ωσ")),
    ("ια", ("ια", "εια")),
    ("ι", ("ι", "η", "ει", "οι", "υ")),
    ("ο", ("ο", "ω")),
    ("ε", ("ε", "αι")),
)


def fold(text: str) -> str:
    """Lower-case ``text`` without accents, diaeresis or final sigma."""
    decomposed = unicodedata.normalize("NFD", text.casefold())
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", bare).replace("ς", "σ")


def to_greek(word: str) -> str:
    """Transliterate a folded word typed in Latin letters to Greek (Chania → χανια)."""
    return _TO_GREEK_RE.sub(lambda m: _TO_GREEK_MAP[m.group(0)], word)


@lru_cache(maxsize=1 << 18)
def sounds(stem: str) -> str:
    """Fold the letters that sound alike (η, ι, υ, ει, οι → ι; ω → ο; αι → ε; ευ → εφ...).

    Doubled consonants are single (λλ → λ, γγ and γκ → γ), νδ is ντ. A final ι goes
    too: Latin spelling hides which vowels came before it, and the stemmer keeps it
    after some (Ηράκλειο → ηρακλει) but not others (iraklio → ιρακλ).
    """
    stem = stem.replace("ου", "\0")  # the "u" sound: its υ is not an "i"
    for written, spoken in _SOUNDS:
        stem = stem.replace(written, spoken)
    stem = _DOUBLED.sub(r"\1", stem.replace("\0", "ου"))
    return stem[:-1] if len(stem) > 2 and stem.endswith("ι") else stem


def _greeklish(word: str) -> set[str]:
    """The Greek words a folded Greeklish ``word`` may be (none without h, x, 8 or 3)."""
    if not any(letter in _DIGRAPHS.sub("", word) for letter in "hx83"):
        return set()
    return {_respelled(word, letters) for letters in _GREEKLISH_READINGS}


def _respelled(word: str, letters: dict[str, str]) -> str:
    """``word`` in Greek, its Latin letters read as ``letters`` says, the rest transliterated."""
    return to_greek(_GREEKLISH_RE.sub(lambda m: letters.get(m[0], m[0]), word))


def latin_sounds(word: str) -> frozenset[str]:
    """The :func:`sounds` of each Greek word that ``word``, typed in Latin letters, may be.

    Latin letters hide how the ending was spelled, and the stemmer strips -ης but
    not -ις: so «markakis» is read as -ις, -ης, -εις... and finds «Μαρκάκης».
    Typed as Greeklish («dhmos», «aithsh», «xaniwn»), it is read that way too.
    Empty for a stop word.
    """
    folded = fold(word)
    readings = {to_greek(folded), *_greeklish(folded)}
    if readings & STOP_WORDS:
        return frozenset()
    readings |= {other for greek in readings for other in _in_doubt(greek)}
    return frozenset(spoken for greek in readings for spoken in _spoken(greek))


def _in_doubt(greek: str) -> Iterator[str]:
    """``greek`` with one of its letters in doubt read the other way (κοινοχρηστου for -ιστου)."""
    for written, other in _IN_DOUBT:
        for at, letter in enumerate(greek):
            if letter == written:
                yield greek[:at] + other + greek[at + 1 :]


def _spoken(greek: str) -> set[str]:
    """The sounds of a transliterated word, for each Greek ending its Latin one may be."""
    if len(greek) <= 2:
        return {sounds(greek)}
    for ending, spellings in _LATIN_ENDINGS:
        if greek.endswith(ending):
            base = greek[: -len(ending)]
            return {sounds(stem(base + spelling)) for spelling in spellings}
    return {sounds(stem(greek))}


def is_latin(word: str) -> bool:
    """Whether ``word`` is typed in Latin letters (and is read as transliterated Greek)."""
    return _LATIN.search(fold(word)) is not None


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    return snowballstemmer.stemmer("greek")


_VOWELS = frozenset("αεηιουω")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The Snowball Greek stem of a folded Greek word (the word itself if nothing is left).

    Snowball keeps the ι of a word's -ιο, -ιος, -ιας forms but strips it from the
    others (συμβούλιο → συμβουλι, συμβουλίου → συμβουλ; Γεώργιος, Γεωργίου), so a
    stem ending in a consonant and ι loses that ι here. An ι after a vowel is part
    of ει, οι, αι, υι and stays (ταμείο, ταμείου → ταμει).
    """
    stemmed = str(_stemmer().stemWord(word)).replace("ς", "σ")
    if len(stemmed) > 2 and stemmed[-1] == "ι" and stemmed[-2] not in _VOWELS:
        return stemmed[:-1]
    return stemmed or word


# Words repeat (Zipf): caching a token's term makes analysis several times cheaper.
@lru_cache(maxsize=1 << 18)
def terms(word: str) -> str | None:
    """The index term of one token, or ``None`` for a stop word."""
    folded = fold(word)
    if _LATIN.search(folded):
        folded = to_greek(folded)
    if folded in STOP_WORDS:
        return None
    return stem(folded) if len(folded) > 2 else folded


#: A word: a run of letters and digits (Greek and Latin alike).
WORD = re.compile(r"\w+")
