"""The brokers behind the serve loop's seam (detector.stream.ports): kafka-python, confluent-kafka
and an in-memory one for unit tests, each translating its client's values and errors.

The only package of the detector that imports a Kafka client library; detector.stream never
imports it (the command line wires an adapter into the loop).
"""
