"""`panel serve app` entry: the gallery, or one page with ``?page=<slug>`` (see snnviz.gallery).

Bokeh re-runs this script for every session; all logic lives in :mod:`snnviz.gallery`. Nothing
here imports JAX or a page module: the HTML goes out at once (the page's title is read from its
source) and the page is built, after the JAX compilation cache is enabled, once the browser has
loaded the document.
"""

from snnviz.gallery import build_app, page_title

build_app().servable(title=page_title())
