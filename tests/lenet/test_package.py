from __future__ import annotations

import importlib

import lenet


def test_every_public_name_loads_from_its_module():
    assert sorted(lenet._HOMES) == lenet.__all__
    for name, module in lenet._HOMES.items():
        assert getattr(lenet, name) is getattr(importlib.import_module(module), name)
    assert callable(lenet.train)  # the function, not a submodule of that name
