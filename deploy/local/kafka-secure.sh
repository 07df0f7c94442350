# The secured variant of the local Kafka (deploy/local/stack up kafka --secure), sourced by
# services/kafka.sh when KAFKA_SECURE=1. A second broker beside the plaintext one, with its own
# state in $STACK_STATE/kafka-secure:
#   SASL_SSL on 127.0.0.1:$KAFKA_SECURE_PORT (9096)  SCRAM-SHA-256/512 users admin, detector, producer
#   SSL      on 127.0.0.1:$KAFKA_MTLS_PORT (9097)    mutual TLS: a client certificate from the CA,
#                                                    its CN the principal (CN=detector is User:detector)
#   the controller on 127.0.0.1:$KAFKA_SECURE_CONTROLLER_PORT (19096), mutual TLS as well.
# A CA and certificates made with openssl on the first start; passwords drawn at random then. The
# KRaft StandardAuthorizer denies what no ACL allows: detector may read `readings` in group
# `detector` and write `anomalies` and `readings.dlq`; producer may write `readings`; admin and the
# broker itself are super users. Clients find everything in $KAFKA_SECRETS: ca.pem, USER.properties
# (SASL_SSL, Kafka's client format, for our CLIs' --kafka-config and Kafka's own tools' --command-config),
# USER.password, USER.crt and USER.key.
# shellcheck shell=bash

KAFKA_DIR=$STACK_STATE/kafka-secure
KAFKA_PORT=${KAFKA_SECURE_PORT:-9096}
KAFKA_MTLS_PORT=${KAFKA_MTLS_PORT:-9097}
KAFKA_CONTROLLER_PORT=${KAFKA_SECURE_CONTROLLER_PORT:-19096}
KAFKA_SECRETS=$KAFKA_DIR/secrets
KAFKA_USERS=(admin detector producer)

# openssl_sign NAME CN [SAN]: a key and a certificate for CN, signed by the stack's CA.
openssl_sign() {
  local name=$1 cn=$2 san=${3:-} ext
  ext=$(mktemp)
  printf 'extendedKeyUsage=serverAuth,clientAuth\n%s' "${san:+subjectAltName=$san}" >"$ext"
  openssl req -newkey rsa:2048 -nodes -keyout "$KAFKA_SECRETS/$name.key" -subj "/CN=$cn" \
    -out "$KAFKA_SECRETS/$name.csr" 2>/dev/null
  openssl x509 -req -in "$KAFKA_SECRETS/$name.csr" -CA "$KAFKA_SECRETS/ca.pem" \
    -CAkey "$KAFKA_SECRETS/ca.key" -CAcreateserial -days 825 -extfile "$ext" \
    -out "$KAFKA_SECRETS/$name.crt" 2>/dev/null
  rm -f "$ext" "$KAFKA_SECRETS/$name.csr"
}

# The CA, the broker's and each user's certificate, passwords and client files (first start only).
kafka_secure_credentials() {
  [[ -f $KAFKA_SECRETS/.complete ]] && return 0
  command -v openssl >/dev/null || die "openssl is missing: run deploy/local/install-deps"
  say "kafka: making a CA, certificates and SCRAM passwords in $KAFKA_SECRETS"
  rm -rf "$KAFKA_SECRETS" "$KAFKA_DIR/data"  # new users need a freshly formatted log
  (umask 077 && mkdir -p "$KAFKA_SECRETS")
  local old_umask user
  old_umask=$(umask)
  umask 077
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$KAFKA_SECRETS/ca.key" -days 825 \
    -subj "/CN=anomaly-detector local stack CA" -out "$KAFKA_SECRETS/ca.pem" 2>/dev/null
  openssl_sign broker kafka-broker "DNS:localhost,IP:127.0.0.1"
  cat "$KAFKA_SECRETS/broker.key" "$KAFKA_SECRETS/broker.crt" >"$KAFKA_SECRETS/broker.keystore.pem"
  for user in "${KAFKA_USERS[@]}"; do
    openssl_sign "$user" "$user"
    head -c 24 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' >"$KAFKA_SECRETS/$user.password"
    sh "$STACK_ROOT/deploy/kafka/secure/client-properties.sh" "$user" \
      "$KAFKA_HOST:$KAFKA_PORT" "$KAFKA_SECRETS" >"$KAFKA_SECRETS/$user.properties"
  done
  umask "$old_umask"
  touch "$KAFKA_SECRETS/.complete"
}

# The listener and security lines of server.properties.
kafka_secure_config() {
  cat <<EOF
listeners=SASL_SSL://$KAFKA_HOST:$KAFKA_PORT,MTLS://$KAFKA_HOST:$KAFKA_MTLS_PORT,CONTROLLER://$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=SASL_SSL://$KAFKA_HOST:$KAFKA_PORT,MTLS://$KAFKA_HOST:$KAFKA_MTLS_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=MTLS
listener.security.protocol.map=CONTROLLER:SSL,MTLS:SSL,SASL_SSL:SASL_SSL
ssl.keystore.type=PEM
ssl.keystore.location=$KAFKA_SECRETS/broker.keystore.pem
ssl.truststore.type=PEM
ssl.truststore.location=$KAFKA_SECRETS/ca.pem
listener.name.mtls.ssl.client.auth=required
listener.name.controller.ssl.client.auth=required
ssl.principal.mapping.rules=RULE:^CN=([a-zA-Z0-9._-]+)$/\$1/,DEFAULT
sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:kafka-broker;User:admin
allow.everyone.if.no.acl.found=false
EOF
}

# The storage tool's --add-scram arguments: each user under both SCRAM mechanisms.
kafka_secure_scram_args() {
  local user password mechanism
  for user in "${KAFKA_USERS[@]}"; do
    password=$(<"$KAFKA_SECRETS/$user.password")
    for mechanism in SCRAM-SHA-256 SCRAM-SHA-512; do
      printf '%s\n' --add-scram "$mechanism=[name=$user,password=$password]"
    done
  done
}

# The broker answers an authenticated request (as admin).
kafka_secure_answers() {
  local py=$STACK_ROOT/.venv/bin/python
  [[ -x $py ]] || die "the secured Kafka needs the project's virtualenv: run make install"
  timeout 20 "$py" "$STACK_ROOT/deploy/local/kafka_grants.py" --check \
    "$KAFKA_SECRETS/admin.properties" >/dev/null 2>&1
}

# The topics and the ACLs of the header, as admin (idempotent).
kafka_secure_grant() {
  "$STACK_ROOT/.venv/bin/python" "$STACK_ROOT/deploy/local/kafka_grants.py" \
    "$KAFKA_SECRETS/admin.properties" || die "kafka: could not create the secured broker's topics and ACLs"
}
