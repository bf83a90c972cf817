"""TensorFlow's start-up lines are kept off stderr; anything else it writes still shows."""

from __future__ import annotations

import importlib.machinery
import os
import types

import pytest

from study.quiet import _QuietLoader


class _ChattyLoader:
    """Writes to file descriptor 2 as TensorFlow's C++ libraries do while they load."""

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        os.write(
            2,
            b"WARNING: All log messages before absl::InitializeLog() is called are written\n"
            b"I0000 port.cc:153] oneDNN custom operations are on.\n"
            b"I0000 cudart_stub.cc:31] Could not find cuda drivers on your machine\n"
            b"E0000 some_op.cc:1] a real problem\n",
        )
        module.loaded = True


def test_the_start_up_lines_are_dropped_and_other_lines_pass(capfd):
    spec = importlib.machinery.ModuleSpec("chatty", _QuietLoader(_ChattyLoader()))
    module = types.ModuleType("chatty")
    spec.loader.exec_module(module)
    err = capfd.readouterr().err
    assert module.loaded
    assert err == "E0000 some_op.cc:1] a real problem\n"


@pytest.mark.slow
def test_asking_whether_tensorflow_is_installed_leaves_its_import_quiet():
    import subprocess
    import sys

    code = (
        "import importlib.util\n"
        "from study.quiet import quiet_tensorflow\n"
        "quiet_tensorflow()\n"
        "assert importlib.util.find_spec('tensorflow') is not None\n"  # as select_backend does
        "import tensorflow\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env
    )
    assert result.returncode == 0, result.stderr
    assert "absl::InitializeLog" not in result.stderr
    assert "oneDNN custom operations" not in result.stderr
