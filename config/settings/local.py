"""Single-machine settings: what `make run` uses.

DEBUG is off here too: `make run` is how people try Timbre, often reachable from other machines
on their network, and Django's debug pages list every URL pattern and show settings and
tracebacks to anyone. Developers who want them set DJANGO_DEBUG=1 and get a loud warning.
"""

import sys

from config.settings.base import *  # noqa: F403
from config.settings.base import env

DEBUG = env.bool("DJANGO_DEBUG", default=False)

if DEBUG:
    sys.stderr.write(
        "\n*** DJANGO_DEBUG is on: this is a DEVELOPMENT server. Error pages show code, settings "
        "and every URL to anyone who can reach it. Never expose it. ***\n\n"
    )
