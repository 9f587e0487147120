"""Data sets generated in code (no downloads): Yin-Yang, scikit-learn's bundled digits."""

from .encoding import latency_encode as latency_encode
from .yinyang import YinYang as YinYang
from .yinyang import yinyang as yinyang
from .yinyang import yinyang_class as yinyang_class
