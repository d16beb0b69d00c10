"""The dataset card template published with the data; installed inside the dataset package as
``mnist1d_hf.hub_card`` and read with ``importlib.resources``, so any install finds it."""
