"""The model core: the autoencoder, its bundle, calibration, windows, scoring and the alarm rule.

Pure logic: imports nothing of Kafka, HTTP or the command line, and neither `stream` nor `offline`.
"""
