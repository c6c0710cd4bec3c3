"""The 148-symbol table of NVIDIA's Tacotron2 (DLE and NVIDIA/tacotron2 since 2018-11).

Order: pad ``_`` (id 0), ``-``, punctuation and space (ids 2-11), ``A-Z``, ``a-z``, then the
84 ARPAbet phonemes of CMUdict, each prefixed with ``@`` (ids 64-147). The ids index the
embedding of every published checkpoint, so the order is fixed.
"""

from __future__ import annotations

from typing import Iterable

PAD = "_"

#: the CMUdict phoneme set (vowels with stress 0-2), in the order the table uses
ARPABET: tuple[str, ...] = tuple(
    """
    AA AA0 AA1 AA2 AE AE0 AE1 AE2 AH AH0 AH1 AH2 AO AO0 AO1 AO2 AW AW0 AW1 AW2 AY AY0 AY1 AY2
    B CH D DH EH EH0 EH1 EH2 ER ER0 ER1 ER2 EY EY0 EY1 EY2 F G HH IH IH0 IH1 IH2 IY IY0 IY1 IY2
    JH K L M N NG OW OW0 OW1 OW2 OY OY0 OY1 OY2 P R S SH T TH UH UH0 UH1 UH2 UW UW0 UW1 UW2
    V W Y Z ZH
    """.split()
)

SYMBOLS: tuple[str, ...] = (
    PAD,
    "-",
    *"!'(),.:;? ",
    *"ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    *"abcdefghijklmnopqrstuvwxyz",
    *(f"@{phoneme}" for phoneme in ARPABET),
)

SYMBOL_TO_ID: dict[str, int] = {symbol: index for index, symbol in enumerate(SYMBOLS)}


def sequence_to_text(ids: Iterable[int]) -> str:
    """Symbol ids -> readable text (for debugging), ARPAbet back in braces: ``{HH AH0}``."""
    text = ""
    for index in ids:
        if 0 <= index < len(SYMBOLS):
            symbol = SYMBOLS[index]
            text += f"{{{symbol[1:]}}}" if symbol.startswith("@") else symbol
    return text.replace("}{", " ")
