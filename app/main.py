"""`panel serve app` entry: the gallery, or one page with ``?page=<slug>`` (see snnviz.gallery).

Bokeh re-runs this script for every session; all logic lives in :mod:`snnviz.gallery`.
"""

from snnviz.core import enable_compilation_cache
from snnviz.gallery import build_app, page_title

enable_compilation_cache()  # before the first jitted call of this process
build_app().servable(title=page_title())
