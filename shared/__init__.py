"""What both command lines share: the reading's wire format, CSV tables, atomic outputs, click
building blocks and the Kafka connection (TLS/SASL settings, connecting, one-line diagnoses).

Imports nothing of `detector` or `producer`, and never TensorFlow.
"""
