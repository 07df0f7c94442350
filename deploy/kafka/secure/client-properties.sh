#!/bin/sh
# client-properties.sh USER BOOTSTRAP SECRETS: the Kafka client properties file of USER on a
# secured broker (SCRAM-SHA-512 over TLS, the CA in SECRETS/ca.pem, the password from
# SECRETS/USER.password), on stdout. One writer for both secured brokers: the local stack's
# (deploy/local/kafka-secure.sh) and Compose's (certs.sh). Our CLIs read it with --kafka-config,
# Kafka's own tools with --command-config.
set -eu
cat <<PROPS
# A secured Kafka, as user $1 (SCRAM over TLS).
bootstrap.servers=$2
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="$1" password="$(cat "$3/$1.password")";
ssl.truststore.type=PEM
ssl.truststore.location=$3/ca.pem
PROPS
