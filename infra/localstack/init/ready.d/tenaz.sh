#!/usr/bin/env bash
# Creates Tenaz's AWS resources in LocalStack once it is ready (LocalStack runs every
# script in /etc/localstack/init/ready.d). The same resources as template.yaml, under
# the names `make dev` looks for:
#
#   ${TENAZ_PREFIX}webhooks-dlq   SQS, 14 days' retention, RedriveAllowPolicy naming the queue below
#   ${TENAZ_PREFIX}webhooks       SQS, RedrivePolicy to the DLQ after TENAZ_MAX_RECEIVE_COUNT receives
#   ${TENAZ_PREFIX}idempotency    DynamoDB, partition key id (S), TTL on expiresAt
#   ${TENAZ_PREFIX}breakers       DynamoDB, partition key name (S), TTL on expiresAt
#   ${TENAZ_PREFIX}sources        Secrets Manager, the TENAZ_SOURCES JSON from TENAZ_SOURCES_FILE
#
# Safe to run again: what exists is kept (the secret gets the file's current value).
# Any failure stops it with an error, which LocalStack logs.
set -euo pipefail
prefix=${TENAZ_PREFIX:-tenaz-dev-}
max_receive=${TENAZ_MAX_RECEIVE_COUNT:-200}
visibility=${TENAZ_VISIBILITY_TIMEOUT:-30} # seconds; the local runner's invocations get a sixth of it
sources_file=${TENAZ_SOURCES_FILE:-/etc/tenaz/sources.json}

log() { echo "tenaz init: $*"; }
json_string() { printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"; }

# --- Queues ------------------------------------------------------------------------
dlq_url=$(awslocal sqs create-queue --queue-name "${prefix}webhooks-dlq" \
  --attributes MessageRetentionPeriod=1209600,MaximumMessageSize=1048576 --query QueueUrl --output text)
dlq_arn=$(awslocal sqs get-queue-attributes --queue-url "$dlq_url" --attribute-names QueueArn \
  --query Attributes.QueueArn --output text)

# Attribute values that are JSON documents go in as JSON strings.
redrive_policy=$(printf '{"deadLetterTargetArn":"%s","maxReceiveCount":"%s"}' "$dlq_arn" "$max_receive")
attributes=$(printf '{"VisibilityTimeout":"%s","MessageRetentionPeriod":"345600","MaximumMessageSize":"1048576","RedrivePolicy":%s}' \
  "$visibility" "$(json_string "$redrive_policy")")
queue_url=$(awslocal sqs create-queue --queue-name "${prefix}webhooks" --attributes "$attributes" \
  --query QueueUrl --output text)
queue_arn=$(awslocal sqs get-queue-attributes --queue-url "$queue_url" --attribute-names QueueArn \
  --query Attributes.QueueArn --output text)

allow=$(printf '{"redrivePermission":"byQueue","sourceQueueArns":["%s"]}' "$queue_arn")
awslocal sqs set-queue-attributes --queue-url "$dlq_url" \
  --attributes "$(printf '{"RedriveAllowPolicy":%s}' "$(json_string "$allow")")"
log "queue $queue_url -> DLQ $dlq_url after $max_receive receives"

# --- Tables ------------------------------------------------------------------------
table() { # NAME KEY
  if awslocal dynamodb describe-table --table-name "$1" >/dev/null 2>&1; then
    log "table $1 exists"
  else
    awslocal dynamodb create-table --table-name "$1" --billing-mode PAY_PER_REQUEST \
      --attribute-definitions "AttributeName=$2,AttributeType=S" \
      --key-schema "AttributeName=$2,KeyType=HASH" >/dev/null
    awslocal dynamodb wait table-exists --table-name "$1"
    log "table $1 created (key $2)"
  fi
  awslocal dynamodb update-time-to-live --table-name "$1" \
    --time-to-live-specification Enabled=true,AttributeName=expiresAt >/dev/null 2>&1 ||
    awslocal dynamodb describe-time-to-live --table-name "$1" --query TimeToLiveDescription.TimeToLiveStatus \
      --output text | grep -q ENABLED
}
table "${prefix}idempotency" id
table "${prefix}breakers" name

# --- Sources secret ----------------------------------------------------------------
[ -r "$sources_file" ] || { echo "tenaz init: $sources_file not readable" >&2; exit 1; }
if awslocal secretsmanager describe-secret --secret-id "${prefix}sources" >/dev/null 2>&1; then
  awslocal secretsmanager put-secret-value --secret-id "${prefix}sources" \
    --secret-string "file://$sources_file" >/dev/null
  log "secret ${prefix}sources updated from $sources_file"
else
  awslocal secretsmanager create-secret --name "${prefix}sources" \
    --description "Tenaz webhook sources (TENAZ_SOURCES JSON)" --secret-string "file://$sources_file" >/dev/null
  log "secret ${prefix}sources created from $sources_file"
fi

log "ready: TENAZ_QUEUE_URL=$queue_url TENAZ_DLQ_URL=$dlq_url TENAZ_IDEMPOTENCY_TABLE=${prefix}idempotency TENAZ_BREAKER_TABLE=${prefix}breakers TENAZ_SOURCES_SECRET_ID=${prefix}sources"
