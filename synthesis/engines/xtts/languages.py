"""XTTS v2 languages: codes, per-language text limits, and text front-ends they need."""

from __future__ import annotations

import importlib.util

from . import FACTS

LANGUAGES = FACTS.languages

__all__ = ["CHAR_LIMITS", "LANGUAGES", "base_language", "language_unavailable_reason"]

# Keyed by the code without region, so asking for a limit needs no model.
CHAR_LIMITS = {code.split("-")[0]: limit for code, limit in FACTS.char_limits.items()}

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
