"""ttsfw.draws: a generator per batch row gives each row the draws it would make alone."""

from __future__ import annotations

import pytest
import torch

from ttsfw import draws
from ttsfw.components.tacotron2.layers import prenet_dropout


def seeded(*seeds: int) -> list[torch.Generator]:
    return [torch.Generator().manual_seed(seed) for seed in seeds]


@pytest.mark.parametrize("draw", [draws.randn, draws.rand])
def test_a_row_draws_what_it_would_alone(draw):
    batch = draw((3, 4, 5), seeded(1, 2, 3))
    for row, seed in enumerate((1, 2, 3)):
        assert torch.equal(batch[row : row + 1], draw((1, 4, 5), seeded(seed)))
    assert not torch.equal(batch[0], batch[1])


def test_one_generator_draws_as_torch_does():
    assert torch.equal(draws.randn((2, 3), torch.Generator().manual_seed(5)),
                       torch.randn((2, 3), generator=torch.Generator().manual_seed(5)))
    x = torch.ones(2, 64)
    torch.manual_seed(9)
    expected = torch.nn.functional.dropout(x, 0.5, training=True)
    torch.manual_seed(9)
    assert torch.equal(prenet_dropout(x, None), expected)  # the reference's dropout, bit for bit


def test_prenet_dropout_per_row_masks_each_row_as_alone():
    x = torch.rand(3, 64) + 0.1
    together = prenet_dropout(x, seeded(4, 5, 6))
    for row, seed in enumerate((4, 5, 6)):
        assert torch.equal(together[row : row + 1], prenet_dropout(x[row : row + 1], seeded(seed)))


def test_pick_follows_the_rows():
    generators = seeded(1, 2, 3)
    assert draws.pick(generators, [2, 0]) == [generators[2], generators[0]]
    shared = torch.Generator()
    assert draws.pick(shared, [2, 0]) is shared


def test_a_generator_count_that_is_not_the_batch_is_an_error():
    with pytest.raises(ValueError, match="2 generators for a batch of 3 rows"):
        draws.randn((3, 4), seeded(1, 2))
