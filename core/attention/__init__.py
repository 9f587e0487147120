"""Attention kernels and a small decoder-only transformer with a pluggable kernel
(:mod:`.decoder`)."""
