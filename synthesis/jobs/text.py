"""Text preparation for speech: normalisation and splitting into engine-sized chunks.

XTTS reads at most a few hundred characters at a time (fewer for CJK scripts) and degrades past
its per-language limit, so long texts are split into sentences and packed into chunks below that
limit. Pure Python: the web process imports this to validate and count, the worker to split.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from types import MappingProxyType

# Languages with sentence rules of their own (abbreviations, CJK punctuation, caseless scripts);
# any other language is split with the generic rules for spaced scripts. Which languages a
# request may use, and each one's chunk limit, is the engine's business (its facts).
RULE_LANGUAGES = (
    "en", "de", "fr", "es", "it", "pt", "pl", "zh-cn", "ar", "cs", "ru", "nl", "tr", "ja",
    "hu", "ko", "hi",
)  # fmt: skip

PARAGRAPH_BREAK = "\n\n"


class EmptyTextError(ValueError):
    """The text has nothing to speak (empty, whitespace or punctuation only)."""


@dataclass(frozen=True, slots=True)
class Chunk:
    """One piece of text for one engine call.

    ``paragraph_end`` is True when a paragraph break follows this chunk (the caller inserts a
    longer pause there); it is False for the last chunk, after which nothing follows.
    """

    text: str
    paragraph_end: bool
    index: int


def _rules(language: str) -> _Rules:
    code = str(language).strip().lower().replace("_", "-")
    base = code.split("-")[0]
    for candidate in (code, base, "zh-cn" if base == "zh" else ""):
        if candidate in _RULES:
            return _RULES[candidate]
    return _GENERIC_RULES


# --- normalisation ------------------------------------------------------------------------------


def _translation_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {}
    # C0/C1 controls are noise from copy-paste; tabs and the odd line separators become whitespace.
    for code in [*range(0x20), *range(0x7F, 0xA0)]:
        table[code] = None
    table.update({0x09: " ", 0x0B: " ", 0x0A: "\n", 0x0C: "\n\n", 0x0D: "\n", 0x85: "\n"})
    table.update({0x2028: "\n", 0x2029: "\n\n"})
    # Invisible format characters (soft hyphen, zero-width space, bidi marks, BOM). ZWJ and ZWNJ
    # (U+200C/D) stay: they change how Devanagari and Arabic words are written.
    invisible = [0xAD, 0x61C, 0x180E, 0x200B, 0x200E, 0x200F, 0xFEFF]
    invisible += [*range(0x202A, 0x202F), *range(0x2060, 0x2065), *range(0x2066, 0x2070)]
    invisible += [*range(0xFFF9, 0xFFFC)]
    table.update(dict.fromkeys(invisible))
    spaces = [0xA0, 0x1680, *range(0x2000, 0x200B), 0x202F, 0x205F, 0x3000]
    table.update(dict.fromkeys(spaces, " "))
    # XTTS' cleaner deletes ASCII '"' but would feed curly quotes to the BPE as unknown symbols.
    double_quotes = "\u201c\u201d\u201e\u201f\u00ab\u00bb\u2039\u203a\u2033\u2036\u301d\u301e\u301f"
    table.update(dict.fromkeys(map(ord, double_quotes), '"'))
    single_quotes = "\u2018\u2019\u201a\u201b\u2032\u2035\u02bc"
    table.update(dict.fromkeys(map(ord, single_quotes), "'"))
    table.update(dict.fromkeys(map(ord, "\u2010\u2011\u2212\ufe63"), "-"))
    table[0x2026] = "..."
    # Full-width Latin letters and digits (NFKC-safe: the ASCII form is what the model read).
    for code in [*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B)]:
        table[code] = chr(code - 0xFEE0)
    table.update({0xFF02: '"', 0xFF07: "'", 0xFF0D: "-"})
    for code in range(0xFB00, 0xFB07):  # Latin ligatures: "ﬁ" -> "fi"
        table[code] = unicodedata.normalize("NFKC", chr(code))
    return table


_TRANSLATION = _translation_table()
_HALFWIDTH_KANA = re.compile("[\uff61-\uff9f]+")
_DIGIT_RANGE_DASH = re.compile(r"(?<=\d)[\u2012\u2013](?=\d)")
_PAUSE_DASH = re.compile(r" ?[\u2012\u2013\u2014\u2015\ufe58] ?")
_SPACE_RUN = re.compile(r" {2,}")
_SPACE_AROUND_NEWLINE = re.compile(r" *\n *")
_PARAGRAPH_RUN = re.compile(r"\n{3,}")


def normalize_text(text: str) -> str:
    """Return ``text`` cleaned for XTTS, keeping its words and paragraph structure.

    NFC; full-width Latin/digits and half-width kana folded (NFKC only where it is safe);
    curly quotes, guillemets, apostrophes, dashes and "…" unified to ASCII forms XTTS' tokenizer
    knows; control and invisible format characters removed; runs of spaces collapsed; line ends
    unified. A single newline is kept (a line wrap); two or more become exactly one blank line,
    which marks a paragraph break. CJK full-width punctuation (ideographic full stop,
    full-width comma, corner brackets) is kept as is.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be str, not {type(text).__name__}")
    text = text.replace("\r\n", "\n").translate(_TRANSLATION)
    text = _HALFWIDTH_KANA.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)
    # NFC last among the character rewrites: deleting an invisible character or folding kana
    # can leave a sequence that composes, and the result must be stable when normalised again.
    text = unicodedata.normalize("NFC", text)
    text = _DIGIT_RANGE_DASH.sub("-", text)  # an en dash between digits is a range
    # Collapse spaces before the patterns that look around them, so none of them rescans a run.
    text = _SPACE_RUN.sub(" ", text)
    text = _SPACE_RUN.sub(" ", _PAUSE_DASH.sub(" - ", text))
    text = _SPACE_AROUND_NEWLINE.sub("\n", text)
    return _PARAGRAPH_RUN.sub(PARAGRAPH_BREAK, text).strip()


# --- sentence rules -----------------------------------------------------------------------------

_CLOSERS = "\"')\\]}\u00bb\u203a\u201d\u2019\u300d\u300f\u3011\u300b\u3009\uff09"
_OPENERS = "\"'(\\[{\u00ab\u2039\u201c\u2018\u300c\u300e\u3010\u300a\u3008\uff08\u00bf\u00a1"
_NEXT_VISIBLE = re.compile(rf"\s*[{_OPENERS}]*(\S?)")

# Titles and abbreviations after which a capitalised word still belongs to the same sentence.
_ABBREVIATIONS = {
    "en": "mr mrs ms mx dr prof sr jr st mt ft gen col lt sgt capt cmdr adm rev hon gov sen rep "
    "pres messrs e.g i.e cf vs viz approx dept univ bros inc ltd co corp jan feb apr aug sep sept "
    "oct nov dec",
    "de": "hr hrn fr frl dr prof dipl ing mag st z.b d.h u.a u.ä o.ä bzw vgl ca evtl ggf inkl "
    "bspw sog insb z.t u.u s.o s.u geb gest",
    "fr": "mm mme mmes mlle mlles dr pr me st ste cf av bd ex p.ex env c.-à-d",
    "es": "sr sres sra sras srta dr dra d dña ud uds lic ing prof arq av avda gral p.ej vd vds",
    "it": "sig sigg sig.ra sig.na dott dott.ssa prof prof.ssa ing avv arch geom rag on egr gent",
    "pt": "sr sra srs sras srta dr dra drs prof profa eng av exmo exma v.exa p.ex",
    "pl": "dr prof mgr inż hab doc np tzw tj m.in ok ul al godz płk gen ks św wg",
    "cs": "dr ing mgr prof doc bc judr mudr phdr rndr např tj tzv tzn resp popř mj cca sv ul nám",
    "ru": "г гг ул д им т.е т.к т.н т.о др проф акад доц см напр тыс млн млрд руб коп св пер",  # noqa: RUF001
    "nl": "dhr mevr mw mr dr prof ir ing drs bijv o.a d.w.z m.a.w m.b.t i.p.v t.a.v z.g.a vs ca",
    "tr": "dr prof doç av sn yrd öğr bkz örn mah cad sok apt",
    "hu": "dr prof ifj id özv pl kb ill ún",
}
# Abbreviations that continue the sentence when a number follows ("No. 5", "S. 12").
_NUMBER_ABBREVIATIONS = {
    "en": "no nos vol vols p pp ch chap fig figs art sec eq ed op",
    "de": "nr s abs art bd kap tab abb ziff",
    "fr": "n no p vol chap art",
    "es": "núm n p pág págs art cap vol",
    "it": "n pag art cap vol",
    "pt": "n nº pág art cap vol",
    "pl": "nr s str art",
    "cs": "č str odst písm",
    "ru": "стр с гл рис п",  # noqa: RUF001
    "nl": "nr blz p art hfst",
    "tr": "no s",
    "hu": "sz u",
}
# Languages that write ordinals as "3." ("am 3. Oktober"), so a small number before "." is no end.
_ORDINAL_DOT_LANGUAGES = frozenset({"de", "cs", "pl", "hu", "tr"})
_CJK_LANGUAGES = frozenset({"zh-cn", "ja"})
_CASELESS_LANGUAGES = frozenset({"ar", "hi", "ko", "zh-cn", "ja"})

# Matches start only at the first mark of a run and never backtrack into it (possessive), so a
# hostile run of 100,000 dots costs linear time, not quadratic.
_SPACED_END = re.compile(
    rf"[\u0964\u0965]++[{_CLOSERS}]*+"
    rf"|(?<![.!?\u061f\u06d4])[.!?\u061f\u06d4]++[{_CLOSERS}]*+(?=\s|$)"
)
# The full-width full stop (U+FF0E) is also a decimal point in Japanese.
_CJK_END = re.compile(
    rf"(?:[\u3002\uff01\uff1f\uff61!?]|\uff0e(?!\d))++[{_CLOSERS}]*+"
    rf"|(?<!\.)\.++[{_CLOSERS}]*+(?=\s|$)"
)
_SPACED_CLAUSE = re.compile(
    rf"(?<![,;:\u060c\u061b])[,;:\u060c\u061b]++[{_CLOSERS}]*+(?=\s)|(?<=\s)-(?=\s)"
)
_CJK_CLAUSE = re.compile(rf"[\u3001\uff0c\uff1b\uff1a]++[{_CLOSERS}]*+|[,;:](?!\d)")
_SPEAKABLE = re.compile(r"[^\W_]")


@dataclass(frozen=True, slots=True)
class _Rules:
    language: str
    sentence_end: re.Pattern[str]
    clause_end: re.Pattern[str]
    abbreviations: frozenset[str]
    number_abbreviations: frozenset[str]
    has_case: bool


def _rules_for(language: str) -> _Rules:
    cjk = language in _CJK_LANGUAGES
    return _Rules(
        language=language,
        sentence_end=_CJK_END if cjk else _SPACED_END,
        clause_end=_CJK_CLAUSE if cjk else _SPACED_CLAUSE,
        abbreviations=frozenset(_ABBREVIATIONS.get(language, "").split()),
        number_abbreviations=frozenset(_NUMBER_ABBREVIATIONS.get(language, "").split()),
        has_case=language not in _CASELESS_LANGUAGES,
    )


_RULES = MappingProxyType({code: _rules_for(code) for code in RULE_LANGUAGES})
_GENERIC_RULES = _rules_for("")


def _word_before(text: str, end: int) -> str:
    start = text.rfind(" ", 0, end) + 1
    return text[start:end].lstrip(_OPENERS).lower()


def _is_sentence_end(text: str, match: re.Match[str], rules: _Rules) -> bool:
    """Decide whether a terminator candidate really ends a sentence."""
    following = _NEXT_VISIBLE.match(text, match.end()).group(1)
    if rules.has_case and following.islower():
        return False  # "approx. five", "Help!" she said: the sentence goes on
    terminator = match.group().rstrip(_CLOSERS)
    if rules.language == "ja" and terminator != match.group():
        # A closed quote followed by the quotative particle to/tte is part of the sentence.
        return not text.startswith(("と", "って"), match.end())
    if terminator != "." or rules.language in _CJK_LANGUAGES:
        return True
    word = _word_before(text, match.start())
    if word in rules.abbreviations:
        return False
    if following.isdigit() and word in rules.number_abbreviations:
        return False
    if rules.has_case and len(word) == 1 and word.isalpha() and following.isupper():
        return False  # an initial: "J. R. R. Tolkien"
    if rules.language in _ORDINAL_DOT_LANGUAGES and word.isdigit() and len(word) <= 2:
        return not following.isalpha()
    return True


def _trimmed(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def _sentence_spans(text: str, rules: _Rules) -> Iterator[tuple[int, int]]:
    start = 0
    for match in rules.sentence_end.finditer(text):
        if match.end() > start and _is_sentence_end(text, match, rules):
            if span := _trimmed(text, start, match.end()):
                yield span
            start = match.end()
    if span := _trimmed(text, start, len(text)):
        yield span


# --- cutting what is too long -------------------------------------------------------------------


def _is_joined_letter(char: str) -> bool:
    """True for a combining mark or joiner, which belongs to the character before it."""
    return unicodedata.category(char)[0] == "M" or char in "\u200c\u200d"


def _can_cut_between(left: str, right: str, *, strict: bool) -> bool:
    # A virama (combining class 9) or joiner binds the next letter into a conjunct (Devanagari).
    if _is_joined_letter(right) or left in "\u200c\u200d" or unicodedata.combining(left) == 9:
        return False
    if not strict:
        return True
    # Inside zh/ja text any ideograph boundary is fine, but keep embedded Latin words whole.
    return not (left.isalnum() and right.isalnum() and left.isascii() and right.isascii())


def _character_cut(text: str, start: int, window_end: int) -> int:
    for strict in (True, False):
        for cut in range(window_end, start, -1):
            if _can_cut_between(text[cut - 1], text[cut], strict=strict):
                return cut
    return window_end  # a single grapheme longer than the limit: nothing better exists


def _cut_spans(text: str, start: int, end: int, limit: int) -> Iterator[tuple[int, int]]:
    """Cut [start, end) into pieces of at most ``limit``: at a space if any, else between chars."""
    while end - start > limit:
        window_end = start + limit
        space = text.rfind(" ", start + 1, window_end + 1)
        if space != -1:
            yield start, space
            start = space + 1
        else:
            cut = _character_cut(text, start, window_end)
            yield start, cut
            start = cut
    yield start, end


def _clause_spans(text: str, start: int, end: int, rules: _Rules) -> Iterator[tuple[int, int]]:
    clause_start = start
    for match in rules.clause_end.finditer(text, start, end):
        if span := _trimmed(text, clause_start, match.end()):
            yield span
        clause_start = match.end()
    if span := _trimmed(text, clause_start, end):
        yield span


def _units(text: str, rules: _Rules, limit: int) -> Iterator[tuple[int, int]]:
    """Yield spans no longer than ``limit``: sentences, else clauses, else words, else chars."""
    for start, end in _sentence_spans(text, rules):
        if end - start <= limit:
            yield start, end
            continue
        for clause_start, clause_end in _clause_spans(text, start, end, rules):
            if clause_end - clause_start <= limit:
                yield clause_start, clause_end
            else:
                yield from _cut_spans(text, clause_start, clause_end, limit)


def _pack(text: str, units: Iterator[tuple[int, int]], limit: int) -> Iterator[str]:
    """Greedily merge consecutive units while the merged slice stays within ``limit``."""
    chunk_start = chunk_end = -1
    for start, end in units:
        if chunk_start >= 0 and end - chunk_start <= limit:
            chunk_end = end
            continue
        if chunk_start >= 0:
            yield text[chunk_start:chunk_end]
        chunk_start, chunk_end = start, end
    if chunk_start >= 0:
        yield text[chunk_start:chunk_end]


def _check_limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit must be a positive integer, not {limit!r}")
    return limit


def split_sentences(text: str, *, language: str) -> list[str]:
    """Return the sentences of ``text`` (normalised), in order; [] when there are none.

    A sentence never spans a paragraph break. Sentence length is not limited here.
    """
    rules = _rules(language)
    sentences: list[str] = []
    for paragraph in normalize_text(text).split(PARAGRAPH_BREAK):
        flat = paragraph.replace("\n", " ")
        sentences.extend(flat[start:end] for start, end in _sentence_spans(flat, rules))
    return sentences


def split_text(text: str, *, language: str, limit: int) -> list[Chunk]:
    """Split ``text`` into chunks of at most ``limit`` characters (the engine's for the language).

    The text is normalised first (:func:`normalize_text`). Sentences of one paragraph are packed
    greedily; chunks never span a paragraph break. A sentence over the limit is cut at clause
    punctuation, then at a space; only zh/ja text (or a single "word" longer than the limit,
    such as a URL) is cut between characters, never before a combining mark. Chunks with nothing
    to speak (e.g. a "* * *" scene break) are dropped, keeping their paragraph break.

    Languages without rules of their own get the generic rules. Raises ValueError for a bad
    limit, and EmptyTextError (a ValueError)
    when nothing speakable is left.
    """
    limit = _check_limit(limit)
    rules = _rules(language)
    paragraphs = []
    for paragraph in normalize_text(text).split(PARAGRAPH_BREAK):
        flat = paragraph.replace("\n", " ")  # a single newline is a line wrap, not a pause
        pieces = [p for p in _pack(flat, _units(flat, rules, limit), limit) if _SPEAKABLE.search(p)]
        if pieces:
            paragraphs.append(pieces)
    if not paragraphs:
        raise EmptyTextError("Text is empty: there is nothing to speak.")
    chunks: list[Chunk] = []
    for number, pieces in enumerate(paragraphs):
        last_paragraph = number == len(paragraphs) - 1
        for position, piece in enumerate(pieces):
            paragraph_end = position == len(pieces) - 1 and not last_paragraph
            chunks.append(Chunk(text=piece, paragraph_end=paragraph_end, index=len(chunks)))
    return chunks
