"""The sensor simulator and its Kafka and CSV sinks; what both command lines share lives in
`shared`. Never imports TensorFlow."""
