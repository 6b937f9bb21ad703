"""XTTS v2 languages: codes, per-language text limits, and text front-ends they need."""

from __future__ import annotations

import importlib.util

from .checkpoint import LANGUAGES

__all__ = ["CHAR_LIMITS", "LANGUAGES", "base_language", "language_unavailable_reason"]

# Per-language character limits of coqui's VoiceBpeTokenizer (0.28.0), keyed by the code
# without region; kept here so asking for a limit needs no model.
CHAR_LIMITS = {
    "en": 250, "de": 253, "fr": 273, "es": 239, "it": 213, "pt": 203, "pl": 224, "zh": 82,
    "ar": 166, "cs": 186, "ru": 182, "nl": 251, "tr": 226, "ja": 71, "hu": 224, "ko": 95,
    "hi": 150,
}  # fmt: skip

# Text front-ends coqui imports lazily, per language (not dependencies of coqui-tts itself).
_LANGUAGE_MODULES = {"zh": ("pypinyin",), "ja": ("cutlet", "fugashi")}


def base_language(language: str) -> str:
    """The code without region, lowercased ("pt-BR" -> "pt", "zh-cn" -> "zh")."""
    return language.split("-")[0].lower()


def language_unavailable_reason(language: str) -> str | None:
    """Why `language` cannot be synthesized on this install, or None when it can."""
    base = base_language(language)
    if base not in CHAR_LIMITS:
        return f"XTTS does not speak {language!r}; it speaks {', '.join(LANGUAGES)}."
    missing = [m for m in _LANGUAGE_MODULES.get(base, ()) if importlib.util.find_spec(m) is None]
    if missing:
        return (
            f"XTTS needs the Python package(s) {', '.join(missing)} to read {language!r} text; "
            f"install them in the worker environment (pip install {' '.join(missing)})."
        )
    return None
