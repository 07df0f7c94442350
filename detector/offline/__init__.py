"""The offline tools: train a bundle, score and evaluate CSV files, plot.

Built on `detector.core`; never imports `detector.stream`.
"""
