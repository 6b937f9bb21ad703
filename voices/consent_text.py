"""What a person agrees to and reads aloud when they give consent to clone a voice.

The phrase is random and shown only when the consent is issued, so a recording made for it
cannot have been prepared in advance (or cut from someone's podcast). Words are short, common
and easy to say in English, and distinct enough to be told apart when heard.
"""

from __future__ import annotations

import secrets

ATTESTATION_TEXT = (
    "I confirm that I have the right to clone this voice: it is my own voice, or the speaker "
    "has given me explicit permission to create and use a synthetic copy of it. I will not use "
    "the cloned voice to deceive, impersonate or harm anyone."
)

STATEMENT_TEMPLATE = (
    "This is my own voice, and I agree that Timbre may create a synthetic copy of it. "
    "My consent phrase is: {phrase}."
)

PHRASE_WORDS = 4

WORDS = (
    "amber", "anchor", "apple", "arrow", "autumn", "badger", "bamboo", "banjo", "barley",
    "basket", "beacon", "berry", "bicycle", "blanket", "blossom", "bottle", "breeze", "bridge",
    "bucket", "butter", "cabin", "cactus", "camera", "candle", "canyon", "carpet", "castle",
    "cedar", "cherry", "chimney", "circle", "clover", "cobalt", "coconut", "comet", "copper",
    "cotton", "crayon", "cricket", "crystal", "dolphin", "dragon", "eagle", "ember", "falcon",
    "feather", "fiddle", "forest", "fountain", "garden", "ginger", "glacier", "granite",
    "guitar", "hammer", "harbor", "hazel", "helmet", "honey", "island", "jacket", "jasmine",
    "kettle", "kitten", "ladder", "lantern", "lemon", "lily", "lobster", "magnet", "mango",
    "maple", "marble", "meadow", "melon", "mirror", "monkey", "mountain", "mustard", "needle",
    "nutmeg", "ocean", "olive", "orange", "orchid", "otter", "paddle", "panda", "parrot",
    "pebble", "pencil", "pepper", "pillow", "pilot", "planet", "pocket", "pony", "potato",
    "pumpkin", "puzzle", "rabbit", "raven", "ribbon", "river", "rocket", "saddle", "salmon",
    "sandal", "silver", "spider", "spoon", "squirrel", "summer", "sunset", "tiger", "tomato",
    "trumpet", "tulip", "turtle", "velvet", "violin", "wagon", "walnut", "whistle", "willow",
    "window", "winter", "wizard", "yellow", "zebra",
)  # fmt: skip


def phrase_generate(words: int = PHRASE_WORDS) -> str:
    """A random phrase of distinct words (about 28 bits of entropy for four words)."""
    chosen: list[str] = []
    while len(chosen) < words:
        word = secrets.choice(WORDS)
        if word not in chosen:
            chosen.append(word)
    return " ".join(chosen)


def statement_for(phrase: str) -> str:
    return STATEMENT_TEMPLATE.format(phrase=phrase)
