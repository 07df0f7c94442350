"""The sensor simulator and its Kafka and CSV sinks. Never imports TensorFlow."""
