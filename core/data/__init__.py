"""Data sets generated in code (no downloads): Yin-Yang, scikit-learn's bundled digits, digits as
event-camera streams (:mod:`.event_digits`), procedurally drawn symbols (:mod:`.symbols`) and
generated English-like text (:mod:`.text`)."""

from .digits import Digits as Digits
from .digits import digits as digits
from .digits import digits_latency_raster as digits_latency_raster
from .digits import digits_rate_raster as digits_rate_raster
from .digits import digits_split as digits_split
from .encoding import latency_encode as latency_encode
from .rasters import poisson_raster as poisson_raster
from .rasters import spike_times_to_raster as spike_times_to_raster
from .rasters import yinyang_raster as yinyang_raster
from .yinyang import YinYang as YinYang
from .yinyang import yinyang as yinyang
from .yinyang import yinyang_class as yinyang_class
