"""Text normalisation and splitting for XTTS (synthesis/jobs/text.py). Pure Python: no Django."""

# ruff: noqa: RUF001 -- the test texts are real Cyrillic, CJK and Arabic sentences.

import itertools
import random
import time
import unicodedata

import pytest

from synthesis.engines.xtts import FACTS as XTTS
from synthesis.jobs.text import (
    Chunk,
    EmptyTextError,
    normalize_text,
    split_sentences,
)
from synthesis.jobs.text import split_text as _split_text

# Splitting as a job does it for an XTTS voice: the language and its limit come from the
# engine's facts.
LANGUAGE_CHAR_LIMITS = XTTS.char_limits
SUPPORTED_LANGUAGES = XTTS.languages
resolve_language = XTTS.resolve_language


def split_text(text, *, language, limit=None):
    code = resolve_language(language)
    return _split_text(
        text, language=code, limit=limit if limit is not None else XTTS.char_limit(code)
    )


# Three short sentences per language, as a person would write them.
SENTENCES = {
    "en": ["The weather is lovely today.", "Shall we go for a walk in the park?", "I'd love to!"],
    "de": ["Das Wetter ist heute schön.", "Wollen wir im Park spazieren gehen?", "Sehr gerne!"],
    "fr": [
        "Il fait beau aujourd'hui.",
        "Voulez-vous vous promener dans le parc ?",
        "Avec plaisir !",
    ],
    "es": ["Hoy hace muy buen tiempo.", "¿Quieres dar un paseo por el parque?", "¡Me encantaría!"],
    "it": ["Oggi il tempo è bellissimo.", "Vuoi fare una passeggiata nel parco?", "Volentieri!"],
    "pt": ["O tempo está ótimo hoje.", "Você quer passear no parque?", "Eu adoraria!"],
    "pl": [
        "Dzisiaj jest piękna pogoda.",
        "Czy chcesz pójść na spacer do parku?",
        "Bardzo chętnie!",
    ],
    "zh-cn": ["今天天气很好。", "我们去公园散步好吗？", "我很愿意！"],
    "ar": ["الطقس جميل اليوم.", "هل تريد أن نتمشى في الحديقة؟", "بكل سرور!"],
    "cs": ["Dnes je krásné počasí.", "Chceš jít na procházku do parku?", "Moc rád!"],
    "ru": ["Сегодня прекрасная погода.", "Хочешь прогуляться по парку?", "С удовольствием!"],
    "nl": ["Het is vandaag prachtig weer.", "Zullen we in het park wandelen?", "Heel graag!"],
    "tr": ["Bugün hava çok güzel.", "Parkta yürüyüşe çıkmak ister misin?", "Çok isterim!"],
    "ja": ["今日はとてもいい天気ですね。", "公園に散歩に行きませんか？", "ぜひ行きたいです！"],
    "hu": ["Ma gyönyörű az idő.", "Sétáljunk egyet a parkban?", "Nagyon szívesen!"],
    "ko": ["오늘 날씨가 정말 좋네요.", "공원에 산책하러 갈까요?", "좋아요!"],
    "hi": ["आज मौसम बहुत अच्छा है।", "क्या हम पार्क में टहलने चलें?", "मुझे बहुत खुशी होगी!"],
}
NO_SPACE_LANGUAGES = {"zh-cn", "ja"}


def _joiner(language):
    return "" if language in NO_SPACE_LANGUAGES else " "


def _squash(text):
    return "".join(text.split())


def _assert_valid_chunks(chunks, text, *, language, limit=None, whole_words=True):
    limit = limit or LANGUAGE_CHAR_LIMITS[resolve_language(language)]
    assert [chunk.index for chunk in chunks] == list(range(len(chunks)))
    assert all(0 < len(chunk.text) <= limit for chunk in chunks)
    assert all(chunk.text == chunk.text.strip() for chunk in chunks)
    assert "".join(_squash(chunk.text) for chunk in chunks) == _squash(normalize_text(text))
    assert not chunks[-1].paragraph_end
    if whole_words and resolve_language(language) not in NO_SPACE_LANGUAGES:
        # Words are never cut: the chunks' words, in order, are exactly the text's words.
        words = [word for chunk in chunks for word in chunk.text.split()]
        assert words == normalize_text(text).split()


# --- languages --------------------------------------------------------------------------------


def test_limits_are_xtts_v2_limits_for_all_17_languages():
    assert dict(LANGUAGE_CHAR_LIMITS) == {
        "en": 250, "de": 253, "fr": 273, "es": 239, "it": 213, "pt": 203, "pl": 224,
        "zh-cn": 82, "ar": 166, "cs": 186, "ru": 182, "nl": 251, "tr": 226, "ja": 71,
        "hu": 224, "ko": 95, "hi": 150,
    }  # fmt: skip
    assert set(SUPPORTED_LANGUAGES) == set(LANGUAGE_CHAR_LIMITS) == set(SENTENCES)


@pytest.mark.parametrize("code", ["zh", "ZH", "zh-CN", "zh_cn", " zh-cn "])
def test_zh_is_an_alias_of_zh_cn(code):
    assert resolve_language(code) == "zh-cn"
    assert split_text("你好。", language=code)[0].text == "你好。"


@pytest.mark.parametrize("code", ["xx", "", "english", "zh-tw", "pt-br"])
def test_unknown_language_is_a_clear_value_error(code):
    with pytest.raises(ValueError, match="Unsupported language") as error:
        split_text("Hello.", language=code)
    assert "en" in str(error.value) and "zh-cn" in str(error.value)


@pytest.mark.parametrize("language", sorted(SENTENCES))
def test_sentences_are_found_in_every_language(language):
    text = _joiner(language).join(SENTENCES[language])
    assert split_sentences(text, language=language) == SENTENCES[language]


@pytest.mark.parametrize("language", sorted(SENTENCES))
def test_short_text_is_one_chunk(language):
    text = _joiner(language).join(SENTENCES[language])
    assert split_text(text, language=language) == [Chunk(text=text, paragraph_end=False, index=0)]


@pytest.mark.parametrize("language", sorted(SENTENCES))
def test_long_text_is_packed_at_sentence_ends_within_the_limit(language):
    sentences = SENTENCES[language] * 30
    text = _joiner(language).join(sentences)
    limit = LANGUAGE_CHAR_LIMITS[language]
    chunks = split_text(text, language=language)
    _assert_valid_chunks(chunks, text, language=language)
    assert len(chunks) > 1
    enders = ("!", "?", ".", "。", "！", "？", "।", "؟")
    assert all(chunk.text.endswith(enders) for chunk in chunks)
    # Greedy: no two neighbours would have fitted together.
    for first, second in itertools.pairwise(chunks):
        assert len(first.text) + len(_joiner(language)) + len(second.text) > limit


# --- normalisation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("\u201cHello,\u201d she said.", '"Hello," she said.'),
        ("\u00abBonjour\u00bb, dit-il.", '"Bonjour", dit-il.'),
        ("\u201eHallo\u201c, sagte er.", '"Hallo", sagte er.'),
        ("It\u2019s John\u2018s", "It's John's"),
        ("Wait\u2026 what?", "Wait... what?"),
        ("He left\u2014without a word.", "He left - without a word."),
        ("He left \u2013 quietly.", "He left - quietly."),
        ("From 1990\u20132000.", "From 1990-2000."),
        ("\u2212 5 and well\u2010known", "- 5 and well-known"),
        ("Ｈｅｌｌｏ １２３", "Hello 123"),
        ("ｶﾀｶﾅ", "カタカナ"),
        ("\ufb01ne \ufb02ow", "fine flow"),
        ("cafe\u0301", "caf\u00e9"),
        ("a\u00a0b\u2009c\u3000d\te", "a b c d e"),
        ("in\u00adcre\u200bdi\ufeffble\u200e", "incredible"),
        ("bell\x07 and\x00 null\x1b", "bell and null"),
        ("  many    spaces  ", "many spaces"),
    ],
)
def test_normalize_text_unifies_symbols(raw, expected):
    assert normalize_text(raw) == expected


def test_normalize_text_keeps_paragraphs_and_line_wraps():
    raw = "One line\r\nwrapped here.  \r\n \r\n\r\n\r\nSecond\rparagraph.\u2029Third.\n\n\n"
    assert normalize_text(raw) == "One line\nwrapped here.\n\nSecond\nparagraph.\n\nThird."


def test_normalize_text_keeps_script_specifics():
    # ZWNJ/ZWJ shape Devanagari and Arabic; CJK punctuation marks sentence ends.
    for text in ["क्\u200dष", "می\u200cخواهم", "「こんにちは。」", "你好，世界！"]:
        assert normalize_text(text) == text
    assert unicodedata.is_normalized("NFC", normalize_text("Ame\u0301lie"))


def test_normalize_text_refuses_non_text():
    with pytest.raises(TypeError):
        normalize_text(b"bytes")


# --- sentence rules -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "text", "expected"),
    [
        (
            "en",
            "Mr. Smith met Dr. Jones. They talked.",
            ["Mr. Smith met Dr. Jones.", "They talked."],
        ),
        ("en", "Bring fruit, e.g. Apples. Fine.", ["Bring fruit, e.g. Apples.", "Fine."]),
        (
            "en",
            "Pi is 3.14 roughly. It is irrational.",
            ["Pi is 3.14 roughly.", "It is irrational."],
        ),
        ("en", "J. R. R. Tolkien wrote it. Yes.", ["J. R. R. Tolkien wrote it.", "Yes."]),
        ("en", "See No. 5 here. Now.", ["See No. 5 here.", "Now."]),
        (
            "en",
            "It costs approx. five dollars. Cheap.",
            ["It costs approx. five dollars.", "Cheap."],
        ),
        ("en", "Wait... what? No!", ["Wait... what?", "No!"]),
        ("en", 'He said "Stop!" and left. Then?', ['He said "Stop!" and left.', "Then?"]),
        ("en", 'She asked, "Why?" Nobody knew.', ['She asked, "Why?"', "Nobody knew."]),
        (
            "en",
            "It was late. (Very late.) We slept.",
            ["It was late.", "(Very late.)", "We slept."],
        ),
        ("de", "Das ist z.B. wichtig. Gut.", ["Das ist z.B. wichtig.", "Gut."]),
        ("de", "Am 3. Oktober war Feiertag. Ja.", ["Am 3. Oktober war Feiertag.", "Ja."]),
        (
            "de",
            "Hr. Müller und Dr. Weber kamen. Dann.",
            ["Hr. Müller und Dr. Weber kamen.", "Dann."],
        ),
        ("de", "Es kostet 1.000,50 Euro. Teuer.", ["Es kostet 1.000,50 Euro.", "Teuer."]),
        (
            "fr",
            "M. Dupont et Mme Martin sont là. Bien.",
            ["M. Dupont et Mme Martin sont là.", "Bien."],
        ),
        (
            "es",
            "El Sr. García llegó. La Dra. Ruiz no.",
            ["El Sr. García llegó.", "La Dra. Ruiz no."],
        ),
        ("it", "Il dott. Rossi è qui. Bene.", ["Il dott. Rossi è qui.", "Bene."]),
        ("pt", "A Sra. Silva chegou. Ótimo.", ["A Sra. Silva chegou.", "Ótimo."]),
        ("pl", "Prof. Nowak przyszedł. Dobrze.", ["Prof. Nowak przyszedł.", "Dobrze."]),
        ("cs", "Ing. Novák přišel. Dobře.", ["Ing. Novák přišel.", "Dobře."]),
        ("ru", "Это т.е. пример. Конец.", ["Это т.е. пример.", "Конец."]),
        ("ru", "Он жил на ул. Ленина. Да.", ["Он жил на ул. Ленина.", "Да."]),
        ("nl", "Dhr. Jansen kwam bijv. laat. Jammer.", ["Dhr. Jansen kwam bijv. laat.", "Jammer."]),
        ("tr", "Prof. Yılmaz geldi. Güzel.", ["Prof. Yılmaz geldi.", "Güzel."]),
        ("hu", "Dr. Kovács megérkezett. Jó.", ["Dr. Kovács megérkezett.", "Jó."]),
        ("zh-cn", "圆周率约等于3.14。对吗？", ["圆周率约等于3.14。", "对吗？"]),
        ("ja", "「本当？」と彼は言った。そうです。", ["「本当？」と彼は言った。", "そうです。"]),
        ("ja", "値は３．１４です。はい。", ["値は3．14です。", "はい。"]),
        ("ko", "원주율은 3.14입니다. 맞아요.", ["원주율은 3.14입니다.", "맞아요."]),
        ("ar", "هل أنت بخير؟ نعم، شكرا.", ["هل أنت بخير؟", "نعم، شكرا."]),
        ("hi", "राम घर गया।सीता भी गई।", ["राम घर गया।", "सीता भी गई।"]),
    ],
)
def test_sentence_rules(language, text, expected):
    assert split_sentences(text, language=language) == expected


def test_sentences_never_cross_paragraphs():
    text = "A sentence without an end\n\nanother paragraph."
    assert split_sentences(text, language="en") == [
        "A sentence without an end",
        "another paragraph.",
    ]


# --- chunking ---------------------------------------------------------------------------------


def test_over_long_sentence_is_cut_at_clauses_then_words():
    clause = "and the river kept running past the old mill, "
    text = "It began like this: " + clause * 12 + "until night fell."
    chunks = split_text(text, language="en")
    _assert_valid_chunks(chunks, text, language="en")
    assert len(chunks) >= 3
    assert all(chunk.text.endswith((",", ":", ".")) for chunk in chunks)


def test_over_long_sentence_without_punctuation_is_cut_between_words():
    words = [f"word{i}" for i in range(400)]
    text = " ".join(words) + "."
    chunks = split_text(text, language="de")
    _assert_valid_chunks(chunks, text, language="de")
    assert all(len(chunk.text) > 253 - 10 for chunk in chunks[:-1])  # cut as late as possible


@pytest.mark.parametrize("language", ["en", "fr", "ru", "ar", "hi", "ko", "tr"])
def test_words_are_never_split_with_a_small_limit(language):
    text = " ".join(SENTENCES[language] * 10)
    chunks = split_text(text, language=language, limit=40)
    _assert_valid_chunks(chunks, text, language=language, limit=40)


def test_dash_is_a_clause_boundary():
    text = "word " * 40 + "- " + "more " * 30
    chunks = split_text(text.strip(), language="en")
    assert chunks[0].text.endswith("-")


@pytest.mark.parametrize("language", ["zh-cn", "ja"])
def test_cjk_without_punctuation_is_cut_between_characters(language):
    text = (
        "我们今天一起去公园散步然后吃晚饭" * 20
        if language == "zh-cn"
        else "きょうはこうえんにいきます" * 20
    )
    chunks = split_text(text, language=language)
    _assert_valid_chunks(chunks, text, language=language)
    assert all(len(chunk.text) == LANGUAGE_CHAR_LIMITS[language] for chunk in chunks[:-1])


def test_cjk_long_sentence_prefers_full_width_commas():
    clause = "我们今天一起去公园散步，"
    text = clause * 15 + "然后回家。"
    chunks = split_text(text, language="zh")
    _assert_valid_chunks(chunks, text, language="zh")
    assert all(chunk.text.endswith(("，", "。")) for chunk in chunks)


def test_cjk_cut_keeps_embedded_latin_words_whole():
    text = "我" * 78 + "iPhone" + "很好" * 30
    chunks = split_text(text, language="zh-cn")
    _assert_valid_chunks(chunks, text, language="zh-cn")
    assert chunks[1].text.startswith("iPhone")


def test_character_cut_never_separates_a_combining_mark():
    # Hindi with no spaces forces a character cut; vowel signs must stay on their consonant.
    text = "नमस्ते" * 60
    chunks = split_text(text, language="hi")
    _assert_valid_chunks(chunks, text, language="hi", whole_words=False)
    assert len(chunks) == 3
    for chunk in chunks:
        assert unicodedata.category(chunk.text[0])[0] != "M"
        assert chunk.text[-1] != "\u094d"  # a virama joins the next consonant: never cut after it


def test_a_word_longer_than_the_limit_is_the_only_thing_ever_cut():
    url = "https://example.com/" + "a" * 300
    chunks = split_text(f"See {url} now.", language="en")
    _assert_valid_chunks(chunks, f"See {url} now.", language="en", whole_words=False)
    # Cut where the word has a seam ("/"), else at the limit.
    texts = [chunk.text for chunk in chunks]
    assert texts == ["See https://example.com/", "a" * 250, "a" * 50 + " now."]


def test_paragraph_flags_and_no_merge_across_paragraphs():
    text = "Short one.\n\nShort two. Still two.\n\n\n\nShort three."
    chunks = split_text(text, language="en")
    assert [(chunk.text, chunk.paragraph_end) for chunk in chunks] == [
        ("Short one.", True),
        ("Short two. Still two.", True),
        ("Short three.", False),
    ]


def test_a_single_newline_is_a_line_wrap():
    chunks = split_text("It was a dark\nand stormy night.", language="en")
    assert [chunk.text for chunk in chunks] == ["It was a dark and stormy night."]


def test_unspeakable_paragraph_is_dropped_but_its_break_kept():
    chunks = split_text("End of chapter.\n\n* * *\n\nNew chapter.", language="en")
    assert [(chunk.text, chunk.paragraph_end) for chunk in chunks] == [
        ("End of chapter.", True),
        ("New chapter.", False),
    ]


@pytest.mark.parametrize("text", ["", "   ", "\n\n\t\n", "...", "* * *\n\n- -", "\u200b\ufeff"])
def test_empty_text_raises(text):
    with pytest.raises(EmptyTextError, match="Text is empty"):
        split_text(text, language="en")
    assert issubclass(EmptyTextError, ValueError)


@pytest.mark.parametrize("limit", [0, -5, True, 2.5, "100"])
def test_bad_limit_is_refused(limit):
    with pytest.raises(ValueError, match="limit"):
        split_text("Hello there.", language="en", limit=limit)


def test_custom_limit_is_respected():
    text = " ".join(SENTENCES["en"] * 5)
    chunks = split_text(text, language="en", limit=60)
    _assert_valid_chunks(chunks, text, language="en", limit=60)


def test_chunk_count_matches_what_xtts_can_say():
    # Every chunk fits the tokenizer limit, so XTTS never warns about truncated audio.
    text = "This is a fairly ordinary sentence that a narrator might read aloud. " * 200
    for chunk in split_text(text, language="en"):
        assert len(chunk.text) <= 250


# --- a whole book -------------------------------------------------------------------------------


BOOK_WORDS = (
    "the old house stood at the end of a long road and Mr. Holmes said that "
    "nobody had lived there since 1887, although e.g. Dr. Watson thought 3.14 was "
    "close enough; she laughed — quietly — and walked on"
)


def _book(n_chars, seed=7):
    rng = random.Random(seed)
    vocabulary = BOOK_WORDS.split()
    paragraphs, size = [], 0
    while size < n_chars:
        sentences = []
        for _ in range(rng.randint(1, 12)):
            words = [rng.choice(vocabulary) for _ in range(rng.randint(2, 70))]
            sentence = " ".join(words)
            sentences.append(sentence[0].upper() + sentence[1:] + rng.choice(".!?…"))
        paragraphs.append(" ".join(sentences))
        size += len(paragraphs[-1]) + 2
    return "\n\n".join(paragraphs)


def test_a_whole_book_is_split_fast_and_losslessly():
    book = _book(520_000)
    started = time.perf_counter()
    chunks = split_text(book, language="en")
    elapsed = time.perf_counter() - started
    assert elapsed < 3.0, f"splitting {len(book)} characters took {elapsed:.2f}s"
    _assert_valid_chunks(chunks, book, language="en")
    assert sum(chunk.paragraph_end for chunk in chunks) == book.count("\n\n")


@pytest.mark.parametrize(
    "text",
    [
        "a" + "." * 200_000 + "b",
        "a" + " " * 200_000 + "b",
        "word" + "," * 200_000 + " x",
        "a" + " \u2014 " * 70_000 + "b",
        "x" * 300_000,
        "Hi. " + "(" * 200_000 + "x",
        '."' * 100_000 + " end",
    ],
    ids=["dots", "spaces", "commas", "dashes", "no-space", "openers", "alternating"],
)
def test_hostile_text_is_linear_time(text):
    started = time.perf_counter()
    for language in ("en", "zh-cn"):
        chunks = split_text(text, language=language)
        assert all(len(chunk.text) <= LANGUAGE_CHAR_LIMITS[language] for chunk in chunks)
    assert time.perf_counter() - started < 3.0


FUZZ_ALPHABET = [
    *"abcXYZ  ..!?,;:-\"'()\n\n3.14 ",
    *"你好。，！？「」",
    *"नमस्ते।",
    *["\u0301", "\u094d", "\u200d", "\u200b", "\t", "\r\n", "\u00a0", "\uff01", "ｶ", "ﾞ"],
    *["\u2013", "\u2014", "\u2026", "\x00", "\u2029"],
]


def test_random_text_keeps_every_invariant():
    rng = random.Random(11)
    for _ in range(800):
        text = "".join(rng.choice(FUZZ_ALPHABET) for _ in range(rng.randint(0, 300)))
        normalized = normalize_text(text)
        assert normalize_text(normalized) == normalized  # idempotent
        language = rng.choice(SUPPORTED_LANGUAGES)
        limit = rng.choice([None, 1, 5, 17, 40])
        try:
            chunks = split_text(text, language=language, limit=limit)
        except EmptyTextError:
            continue
        limit = limit or LANGUAGE_CHAR_LIMITS[language]
        squashed, position = _squash(normalized), 0
        for chunk in chunks:  # within the limit, trimmed, and in the text's order
            assert 0 < len(chunk.text) <= limit and chunk.text == chunk.text.strip()
            position = squashed.index(_squash(chunk.text), position) + len(_squash(chunk.text))
