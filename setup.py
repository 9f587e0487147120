"""setuptools shim: maps the top-level ``core/`` directory to ``snnviz.core``.

An explicit package list in pyproject.toml silently drops sub-packages of ``core/``
from wheels (see shared STACK.md section 2), so the list is computed here.
"""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["snnviz", "snnviz.*"])
    + ["snnviz.core"]
    + [f"snnviz.core.{p}" for p in find_packages("core")]
)
