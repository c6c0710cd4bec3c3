"""What the user types -> what Hydra parses: ``text=`` values are literal text.

A TTS command line must take any text a person types, but Hydra's override grammar gives
commas, quotes, brackets, ``=`` and ``${`` their own meanings. So before composition a
``text=`` (or ``default_text=``) value is quoted for Hydra, unless it is already written in
Hydra's own syntax:

    python -m ttsfw text="Hello, world."              # spoken as typed: Hello, world.
    python -m ttsfw say "Dr. Smith's cat; it's 5 = 5." vocoder=griffinlim
    python -m ttsfw 'text="Hello, world."'            # Hydra quoting: the same text
    python -m ttsfw -m 'text="One.","Two."'           # Hydra sweep syntax: two jobs

Hydra's syntax means: the value starts with a quote (a quoted string or a list of them), or
with a sweep function such as ``choice(``, and parses as an override. Anything else is text.
"""

from __future__ import annotations

import re

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Quote, QuotedString
from hydra.errors import HydraException

from .errors import ConfigError

#: config keys whose values are text to speak
TEXT_KEYS = ("text", "default_text")
#: Hydra's sweep and cast functions: a value starting with one is Hydra's syntax
_HYDRA_FUNCTION = re.compile(
    r"^(choice|range|interval|glob|sort|shuffle|tag|extend_list|str|int|float|bool)\s*\("
)
_TEXT_OVERRIDE = re.compile(rf"^(\+{{0,2}})({'|'.join(TEXT_KEYS)})=(.*)$", re.DOTALL)


def literal_text_overrides(args: list[str]) -> list[str]:
    """`args` with every ``text=`` value that is not Hydra syntax quoted for Hydra."""
    return [_literal(arg) for arg in args]


def say_args(args: list[str]) -> list[str]:
    """``say "any text" [overrides]`` -> ``text=<the text, quoted> [overrides]``; the first
    argument is the text, whatever it holds (``say -- "-5 degrees"`` also works)."""
    if args[:1] == ["--"]:
        args = args[1:]
    if not args or args[0] in ("-h", "--help"):
        raise ConfigError('say needs the text to speak first: python -m ttsfw say "Hello there." [overrides]')
    return [f"text={quote_text(args[0])}", *args[1:]]


def quote_text(text: str) -> str:
    """`text` as a Hydra value that composes to exactly `text` (interpolations escaped)."""
    # OmegaConf reads "${" as an interpolation: escape it, doubling any backslashes before it
    escaped = re.sub(r"(\\*)\$\{", lambda m: m.group(1) * 2 + "\\${", text)
    return QuotedString(text=escaped, quote=Quote.single).with_quotes()


def _literal(arg: str) -> str:
    match = _TEXT_OVERRIDE.match(arg)
    if match is None:
        return arg
    prefix, key, value = match.groups()
    if _is_hydra_syntax(arg, value):
        return arg
    return f"{prefix}{key}={quote_text(value)}"


def _is_hydra_syntax(arg: str, value: str) -> bool:
    if not (value[:1] in ("'", '"') or _HYDRA_FUNCTION.match(value)):
        return False
    try:
        OverridesParser.create().parse_override(arg)
    except HydraException:
        return False
    return True
