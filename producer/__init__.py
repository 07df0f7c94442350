"""The sensor simulator and its Kafka and CSV sinks, plus what both command lines share: the
wire format and the Kafka connection (TLS, SASL, properties files). Never imports TensorFlow."""
