#!/bin/bash
# Compose profile `secure`, step 2 (service kafka-secure, apache/kafka image): the broker, then its
# SCRAM users, topics and ACLs, made over the LOCAL listener (PLAINTEXT on the container's own
# 127.0.0.1, which no other container reaches; its principal ANONYMOUS is a super user). Healthy
# once /tmp/secured exists. The image's own start script reads the keystore and its password from
# the secrets volume (KAFKA_SSL_*_FILENAME / _CREDENTIALS, under /etc/kafka/secrets), so no
# secret sits in the environment Compose shows. Mirrors deploy/local/kafka-secure.sh.
set -euo pipefail
SECRETS=${SECRETS:-/etc/kafka/secrets}
BIN=/opt/kafka/bin
LOCAL=127.0.0.1:9095
rm -f /tmp/secured
/etc/kafka/docker/run &
broker=$!
export KAFKA_HEAP_OPTS=-Xmx128m  # the tools below, not the broker
until "$BIN/kafka-broker-api-versions.sh" --bootstrap-server "$LOCAL" >/dev/null 2>&1; do
  kill -0 "$broker" 2>/dev/null || { echo "kafka-secure: the broker exited" >&2; exit 1; }
  sleep 2
done
for user in admin detector producer; do
  "$BIN/kafka-configs.sh" --bootstrap-server "$LOCAL" --alter --entity-type users \
    --entity-name "$user" --add-config "SCRAM-SHA-512=[password=$(<"$SECRETS/$user.password")]" \
    >/dev/null
done
for spec in "readings:${READINGS_PARTITIONS:-6}" anomalies:3 readings.dlq:1; do
  "$BIN/kafka-topics.sh" --bootstrap-server "$LOCAL" --create --if-not-exists \
    --topic "${spec%%:*}" --partitions "${spec##*:}" --replication-factor 1
done
acl() { "$BIN/kafka-acls.sh" --bootstrap-server "$LOCAL" --add --allow-principal "User:$1" "${@:2}"; }
acl detector --operation Read --topic readings --group detector >/dev/null
acl detector --operation Write --topic anomalies --topic readings.dlq >/dev/null
acl producer --operation Write --topic readings >/dev/null
touch /tmp/secured
echo "kafka-secure: users admin, detector, producer; topics and ACLs in place"
wait "$broker"
