"""Each process imports only what its package declares: transform and embed run without rq or
pymilvus, the RQ worker without Flask or functions-framework (as their images are built)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from dev.stack import ROOT

# A module of each process, and the packages its image does not install.
CASES = {
    "sluice_ingest.app": ("pymilvus", "onnxruntime"),
    "sluice_transform.app": ("rq", "pymilvus"),
    "sluice_embed.app": ("rq", "pymilvus"),
    "sluice_index.app": ("rq", "onnxruntime"),
    "sluice_dead_letter.app": ("pymilvus", "onnxruntime"),
    "sluice.rq.worker": ("flask", "functions_framework", "pymilvus", "onnxruntime"),
    "sluice.cli": ("flask", "rq", "pymilvus", "onnxruntime"),
}

BLOCKER = """
import importlib.abc, sys
class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in {blocked!r}):
            raise ImportError(f"{{name}} is not installed in this image")
sys.meta_path.insert(0, Absent())
import {module}
"""


@pytest.mark.parametrize("module", sorted(CASES))
def test_a_process_imports_only_what_its_image_installs(module: str) -> None:
    code = textwrap.dedent(BLOCKER.format(blocked=CASES[module], module=module))
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
