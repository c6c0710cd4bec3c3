"""The ``frontend: english`` config node's schema (conf/frontend/english.yaml has the values
and what each means)."""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import MISSING


@dataclass
class EnglishSettings:
    name: str = MISSING
    transliterator: str = MISSING
    strict: bool = MISSING
    reference_quirks: bool = MISSING
