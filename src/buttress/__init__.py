"""buttress: the resilience and operations toolkit for Python services.

Importing ``buttress`` is cheap: the domains live in subpackages (``buttress.resilience``,
``buttress.health``, ``buttress.backup``...) and the server stack is imported only by
``buttress.server`` and the CLI commands that need it.
"""

from buttress._version import __version__
from buttress.errors import ButtressError, ConfigError

__all__ = ["ButtressError", "ConfigError", "__version__"]
