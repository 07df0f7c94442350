#!/bin/sh
# Compose profile `secure`, step 1 (service kafka-secure-certs, in the apache/kafka image, whose
# JRE has keytool): a CA, the broker's PKCS12 keystore, and a random password plus a client
# properties file per user, in $SECRETS (the kafka-secrets volume). Runs once: kept on restarts.
set -eu
SECRETS=${SECRETS:-/secrets}
HOST=${KAFKA_SECURE_HOST:-kafka-secure}
PORT=${KAFKA_SECURE_PORT:-9096}
[ -f "$SECRETS/.complete" ] && { echo "secrets: already made in $SECRETS"; exit 0; }
umask 077
mkdir -p "$SECRETS"
random() { head -c 24 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'; }
random >"$SECRETS/store.password"
store=$(cat "$SECRETS/store.password")
kt() { keytool -storetype PKCS12 -storepass "$store" "$@"; }
kt -genkeypair -alias ca -dname "CN=anomaly-detector compose CA" -ext bc:c -keyalg RSA \
  -keysize 2048 -validity 825 -keystore "$SECRETS/ca.p12"
kt -exportcert -rfc -alias ca -keystore "$SECRETS/ca.p12" >"$SECRETS/ca.pem"
kt -genkeypair -alias broker -dname "CN=kafka-broker" -keyalg RSA -keysize 2048 -validity 825 \
  -keystore "$SECRETS/broker.p12"
kt -certreq -alias broker -keystore "$SECRETS/broker.p12" |
  kt -gencert -alias ca -keystore "$SECRETS/ca.p12" -validity 825 -rfc \
    -ext "SAN=dns:$HOST,dns:localhost,ip:127.0.0.1" -ext EKU=serverAuth,clientAuth \
    >"$SECRETS/broker.pem"
kt -importcert -noprompt -alias ca -file "$SECRETS/ca.pem" -keystore "$SECRETS/broker.p12"
kt -importcert -noprompt -alias broker -file "$SECRETS/broker.pem" -keystore "$SECRETS/broker.p12"
# The image's start script wants a JAAS file for a SASL listener; SCRAM's server side needs no
# settings in it (the users live in the cluster's metadata).
printf 'KafkaServer {\n  org.apache.kafka.common.security.scram.ScramLoginModule required;\n};\n' \
  >"$SECRETS/jaas.conf"
for user in admin detector producer; do
  random >"$SECRETS/$user.password"
  sh "$(dirname "$0")/client-properties.sh" "$user" "$HOST:$PORT" "$SECRETS" \
    >"$SECRETS/$user.properties"
done
# The broker (the apache/kafka image's appuser) reads its keystore, the JAAS file and the
# passwords; the apps (deploy/Dockerfile's user app) their properties files; the certificates
# are public. Nothing else is readable by anyone but root.
chown "${KAFKA_UID:-1000}" "$SECRETS/broker.p12" "$SECRETS/jaas.conf" "$SECRETS"/*.password
chown "${APP_UID:-10001}" "$SECRETS/detector.properties" "$SECRETS/producer.properties"
chmod 644 "$SECRETS"/*.pem
chmod 755 "$SECRETS"
touch "$SECRETS/.complete"
echo "secrets: CA, broker keystore and users admin, detector, producer made in $SECRETS"
