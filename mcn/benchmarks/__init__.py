"""Benchmarks: each module measures one thing and writes its figures to a JSON file
(with provenance) under data/results/. Speed goals are checked here, never in tests.

Chapter 11 (and chapter 8 for decoding) quotes their figures.
"""
