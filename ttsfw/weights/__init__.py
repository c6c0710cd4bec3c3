"""Model weights: checkpoint files read safely (`load`), the store of published files and the
names a ``checkpoint:`` option may give (`store`), legacy pickles converted on explicit trust
(`convert`), and the one rule every component's ``checkpoint:`` option follows (`option`)."""
