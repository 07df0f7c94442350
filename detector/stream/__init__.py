"""The streaming daemon: the serve loop, its metrics and HTTP, and the seam (`ports`) it talks to
a broker through.

Built on `detector.core`; never imports `detector.offline`, `detector.brokers` or a Kafka client.
"""
