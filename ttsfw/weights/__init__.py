"""Model weights: checkpoint files read safely (`load`), the store of published files and the
names a ``checkpoint:`` option may give (`store`), legacy pickles converted on explicit trust
(`convert`), and the one rule every component's ``checkpoint:`` option follows (`option`).

For plugins (the public face, with ``ttsfw`` and ``ttsfw.errors``)::

    from ttsfw.weights import from_checkpoint_option, load_checkpoint, unwrap
    from ttsfw.weights import StoredModel   # what a ttsfw_model_store hook returns
"""

from .load import load_checkpoint, random_weights, unwrap
from .option import from_checkpoint_option
from .store import StoredModel

__all__ = ["StoredModel", "from_checkpoint_option", "load_checkpoint", "random_weights", "unwrap"]
