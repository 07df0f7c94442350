"""The streaming daemon: the serve loop and everything Kafka, metrics and HTTP.

Built on `detector.core`; never imports `detector.offline`.
"""
