"""Transliteration to ASCII, the first step of ``english_cleaners``.

Two transliterators, chosen with ``frontend.transliterator``:

- ``unidecode``: the Unidecode package, as in NVIDIA/tacotron2 and in DeepLearningExamples
  (DLE) until 2021-11, i.e. what the published checkpoints were trained with.
- ``dle``: the behaviour of DLE's own transliterator (DLE after 2021-11): ASCII below 127
  is kept, anything else is replaced by a transliteration, else by a look-alike ASCII
  character (homoglyph), else dropped. The tables here are our own and compact; they hold
  the mappings that change symbol ids on common text (Latin-1, Latin Extended-A, punctuation,
  spaces, currency, Greek, Cyrillic, Arabic) and those the golden cases need. Everything else
  goes through principled fallbacks: canonical decomposition (an accented letter becomes its
  base letter, then the tables apply), styled and full-width forms of ASCII characters
  (Unicode ``<font>``/``<wide>`` compatibility mappings), and decimal digits of any script.
  On rarer characters this speaks more than DLE does (DLE drops e.g. "ō", "ĉ", Vietnamese and
  pinyin accented letters; here they lose the accent) and can differ on a few homoglyphs.

A transliterator maps one character to ASCII text: ``""`` when the character is known to
have no sound of its own (e.g. the Cyrillic soft sign), ``None`` when it cannot map it.
"""

from __future__ import annotations

import unicodedata
from typing import Callable

from ...errors import ConfigError

try:
    from unidecode import unidecode as _unidecode
except ImportError:  # only frontend.transliterator=unidecode needs the package
    _unidecode = None

CharMap = Callable[[str], "str | None"]


def _table(entries: str) -> dict[str, str]:
    """Parse whitespace-separated ``char=ascii`` entries (the ASCII side may be empty)."""
    return dict(entry.split("=", 1) for entry in entries.split())


def _spaces(chars: str) -> dict[str, str]:
    return dict.fromkeys(chars, " ")


#: transliterations, then homoglyph readings DLE has (the fullwidth "１" reads as "l")
_DLE_TABLE: dict[str, str] = {
    **_spaces("\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
              "\u200a\u2028\u2029\u202f\u205f"),
    **_table(
        # Latin letters that are more than a base letter plus accents
        "Ä=Ae Ö=Oe Ü=Ue ä=ae ö=oe ü=ue ß=ss ẞ=SS Æ=AE æ=ae Ð=D ð=d Đ=D đ=d Ø=O ø=o"
        " Þ=TH þ=th Ł=L ł=l ı=i Ĳ=IJ ĳ=ij"
        # punctuation and signs (the em dash, ellipsis, "„", "«" and "»" have no entry)
        " ´=' ¸=, ×=x ¢=c ‐=- ‑=- ‒=- –=- −=- ⁃=- ˗=- ‘=' ’=' ‛=' ′=' ‵=' ʹ=' ʻ=' ʼ='"
        " ʽ=' ʾ=' ˈ=' ˊ=' ˋ=' ˴=' “=\" ”=\" ‟=\" ‚=, ․=. ‹=< ›=> ‽=?! ⁁=/ ⁄=/ ∕=/ ⁎=*"
        " ∗=* ⁓=~ ∼=~ ⁚=: ː=: ˸=: ∶=: ∖=\\"
        # currency signs: the letter they are drawn from
        " ¥=Y €=E ₠=CE ₡=C ₢=Cr ₣=F ₥=m ₦=N ₧=Pt ₨=Rs ₩=W ₭=K ₮=T ₯=Dp ₱=P ₲=G ₳=A"
        " ₵=C ₸=T ₹=R ₺=L ₽=P ₿=B"
        # Greek (accented vowels decompose to these)
        " Α=A Β=B Γ=G Δ=D Ε=E Ζ=Z Η=I Θ=TH Ι=I Κ=K Λ=L Μ=M Ν=N Ξ=KS Ο=O Π=P Ρ=R Σ=S"
        " Τ=T Υ=Y Φ=F Χ=X Ψ=PS Ω=O α=a β=v γ=g δ=d ε=e ζ=z η=i θ=th ι=i κ=k λ=l μ=m"
        " ν=n ξ=ks ο=o π=p ρ=r ς=s σ=s τ=t υ=y φ=f χ=x ψ=ps ω=o"
        # Cyrillic (Russian, Ukrainian, Serbian, Macedonian)
        " А=A Б=B В=V Г=G Д=D Е=E Ё=Yo Ж=Zh З=Z И=I Й=Y К=K Л=L М=M Н=N О=O П=P Р=R"
        " С=S Т=T У=U Ф=F Х=Kh Ц=Ts Ч=Ch Ш=Sh Щ=Sch Ъ= Ы=Y Ь= Э=E Ю=Yu Я=Ya Є=Ye І=I"
        " Ї=Yi Ґ=G Ѕ=S Ј=J Љ=Lj Њ=Nj Ќ=Kj а=a б=b в=v г=g д=d е=e ё=yo ж=zh з=z и=i"
        " й=y к=k л=l м=m н=n о=o п=p р=r с=s т=t у=u ф=f х=kh ц=ts ч=ch ш=sh щ=sch"
        " ъ= ы=y ь= э=e ю=yu я=ya є=ye і=i ї=yi ґ=g ѕ=s ј=j љ=lj њ=nj ќ=kj"
        # Arabic, Persian and Urdu letters (hamza and madda forms decompose to these)
        " ء=e ا=a إ=i ب=b ة=t ت=t ث=th ج=j ح=h خ=kh د=d ذ=dh ر=r ز=z س=s ش=sh ص=s"
        " ض=d ط=t ظ=z ع=e غ=gh ف=f ق=q ك=k ل=l م=m ن=n ه=h و=w ى=a ي=y پ=p چ=ch ژ=zh"
        " ک=k گ=g ی=y ٹ=t ڈ=d ڑ=r ں=n ھ=h ہ=h ے=e"
        # homoglyphs: Hebrew letters read as Latin look-alikes (DLE has no Hebrew
        # transliteration), full-width characters read as other ASCII look-alikes
        " ו=l ן=l ׀=l ס=o ט=v י=' ׳=' ׃=: ０=o １=l Ｉ=l Ｏ=o ［=( ］=) ｀='"
    ),
}


def dle(char: str) -> str | None:
    """One character -> ASCII the way DLE's transliterator does (see the module doc)."""
    if ord(char) < 127:
        return char
    if char in _DLE_TABLE:
        return _DLE_TABLE[char]
    base = unicodedata.normalize("NFD", char)[0]
    if base != char:  # an accented letter: its base letter
        return dle(base)
    if unicodedata.decomposition(char).startswith(("<font>", "<wide>")):
        plain = unicodedata.normalize("NFKC", char)  # a styled or full-width character
        return dle(plain) if len(plain) == 1 and not plain.isspace() else None
    if unicodedata.category(char) == "Nd":  # a digit of another script
        return str(unicodedata.decimal(char))
    return None


def unidecode(char: str) -> str | None:
    """One character -> ASCII with the Unidecode package (which has no "known to be silent":
    it gives "" or, with errors="preserve", the character itself when it cannot map it)."""
    if char.isascii():
        return char
    ascii_text = _unidecode(char, errors="preserve")
    return None if ascii_text in ("", char) else ascii_text


TRANSLITERATORS: dict[str, CharMap] = {"dle": dle, "unidecode": unidecode}


def get_transliterator(name: str) -> CharMap:
    """The per-character transliterator called `name` (a ConfigError if there is none)."""
    if name not in TRANSLITERATORS:
        raise ConfigError(
            f"unknown frontend.transliterator '{name}'; choose one of: {', '.join(TRANSLITERATORS)}"
        )
    if name == "unidecode" and _unidecode is None:
        raise ConfigError(
            "frontend.transliterator=unidecode needs the Unidecode package: "
            "pip install unidecode, or set frontend.transliterator=dle"
        )
    return TRANSLITERATORS[name]


def transliterate(text: str, name: str) -> str:
    """`text` -> ASCII with the transliterator called `name`; unmappable characters dropped."""
    char_map = get_transliterator(name)
    return "".join(ascii_text for char in text if (ascii_text := char_map(char)) is not None)
