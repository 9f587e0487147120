"""snnviz: see and play with spiking and neuromorphic models (JAX engine, Panel dashboards)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("snnviz")
except PackageNotFoundError:  # pragma: no cover - running from an uninstalled tree
    __version__ = "0+unknown"
