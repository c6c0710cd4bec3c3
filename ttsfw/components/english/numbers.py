"""Numbers to words, as NVIDIA's ``english_cleaners`` does it (regex passes + inflect).

The words come from inflect and depend on its version (the golden ids are for inflect 7.6.0).
Unlike the reference this never raises: numbers too big for inflect (more than 36 digits) are
read digit by digit ("one zero zero ..."), stray commas in dollar amounts ("$,5") are ignored.
The reference's "£N -> N pounds" pass is left out: it never fires, since transliteration has
already removed or rewritten "£".
"""

from __future__ import annotations

import functools
import re
from typing import Any

_COMMA_NUMBER = re.compile(r"([0-9][0-9,]+[0-9])")
_DOLLARS = re.compile(r"\$([0-9.,]*[0-9]+)")
_DECIMAL = re.compile(r"([0-9]+\.[0-9]+)")
_ORDINAL = re.compile(r"[0-9]+(st|nd|rd|th)")
_NUMBER = re.compile(r"[0-9]+")


@functools.cache
def _inflect() -> Any:
    """inflect's engine, imported on first use (importing inflect takes seconds)."""
    import inflect

    return inflect.engine()


#: inflect names numbers below 10**36 (up to decillions)
_INFLECT_MAX_DIGITS = 36
_DIGIT_NAMES = "zero one two three four five six seven eight nine".split()


def _too_big(digits: str) -> bool:
    return len(digits.lstrip("0")) > _INFLECT_MAX_DIGITS


def _spell_digits(digits: str) -> str:
    return " ".join(_DIGIT_NAMES[int(digit)] for digit in digits)


def _whole_number(digits: str) -> str:
    """"0012" -> "12", "0" -> "" (as int() would, without its 4300-digit limit); stray commas
    go ("$,5", "$1,.5": int() raises on them in the reference)."""
    return digits.replace(",", "").lstrip("0")


def _dollars(match: re.Match) -> str:
    amount = match.group(1)
    parts = amount.split(".")
    if len(parts) > 2:
        return f"{amount} dollars"  # not an amount: "$1.2.3" -> "1.2.3 dollars"
    dollars = _whole_number(parts[0])
    cents = _whole_number(parts[1]) if len(parts) > 1 else ""
    dollar_unit = "dollar" if dollars == "1" else "dollars"
    cent_unit = "cent" if cents == "1" else "cents"
    if dollars and cents:
        return f"{dollars} {dollar_unit}, {cents} {cent_unit}"
    if dollars:
        return f"{dollars} {dollar_unit}"
    if cents:
        return f"{cents} {cent_unit}"
    return "zero dollars"


def _decimal(match: re.Match) -> str:
    return match.group(1).replace(".", " point ")


def _ordinal(match: re.Match) -> str:
    digits = match.group(0)[:-2]
    if _too_big(digits):
        return _inflect().ordinal(_spell_digits(digits))
    return _inflect().number_to_words(match.group(0))


def _number(match: re.Match) -> str:
    digits = match.group(0)
    if _too_big(digits):
        return _spell_digits(digits)
    number = int(digits)
    if 1000 < number < 3000:  # read like a year
        if number == 2000:
            return "two thousand"
        if 2000 < number < 2010:
            return "two thousand " + _inflect().number_to_words(number % 100)
        if number % 100 == 0:
            return _inflect().number_to_words(number // 100) + " hundred"
        words = _inflect().number_to_words(number, andword="", zero="oh", group=2)
        return words.replace(", ", " ")
    return _inflect().number_to_words(number, andword="")


def normalize_numbers(text: str) -> str:
    """Spell out the numbers of lowercase ASCII text: "$3.50 on the 1st" ->
    "three dollars, fifty cents on the first"."""
    text = _COMMA_NUMBER.sub(lambda match: match.group(1).replace(",", ""), text)
    text = _DOLLARS.sub(_dollars, text)
    text = _DECIMAL.sub(_decimal, text)
    text = _ORDINAL.sub(_ordinal, text)
    return _NUMBER.sub(_number, text)
