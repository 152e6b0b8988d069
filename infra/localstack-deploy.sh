#!/usr/bin/env bash
# Deploy template.yaml into LocalStack and wait for a scheduled cycle of a channel.
#
# LocalStack runs Lambda functions in Docker containers (and downloads its Lambda runtime and DynamoDB
# Local at first use), so this needs a Docker engine.  The project's own machines have none: there this
# script stops at the Docker check, and `make local-deploy` (MiniStack, no Docker) is the local cloud.
#
#   infra/localstack-deploy.sh [CHANNEL]        CHANNEL defaults to example
#   LOCALSTACK_PORT=4566 KEEP=1 infra/localstack-deploy.sh
set -euo pipefail
cd "$(dirname "$0")/.."

CHANNEL=${1:-example}
STACK=${STACK:-hepde}
PORT=${LOCALSTACK_PORT:-4566}
IMAGE=${LOCALSTACK_IMAGE:-localstack/localstack:4}
NAME=hepde-localstack-$PORT
ENDPOINT=http://localhost:$PORT
VENV=${VENV:-.venv}

if ! docker info >/dev/null 2>&1; then
  echo "LocalStack needs a running Docker engine, and there is none here." >&2
  echo "Use the Docker-less local cloud instead: make local-deploy (MiniStack); see docs/deploy.md." >&2
  exit 2
fi

cleanup() { [ "${KEEP:-0}" = 1 ] || docker rm -f "$NAME" >/dev/null 2>&1 || true; }
trap cleanup EXIT

# Lambdas run on the host's architecture (LAMBDA_IGNORE_ARCHITECTURE), so the layers are built for it
docker run -d --rm --name "$NAME" -p "$PORT:4566" \
  -e LAMBDA_IGNORE_ARCHITECTURE=1 -e DEBUG=0 \
  -v /var/run/docker.sock:/var/run/docker.sock "$IMAGE" >/dev/null
echo "waiting for LocalStack at $ENDPOINT ..."
for _ in $(seq 1 90); do
  curl -fs "$ENDPOINT/_localstack/health" >/dev/null 2>&1 && break
  sleep 2
done

export AWS_ENDPOINT_URL=$ENDPOINT AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1 SAM_CLI_TELEMETRY=0
ARCH=$(uname -m | sed 's/arm64/aarch64/')

# the layers as for AWS (python3.12 wheels, no boto3: the runtime image has it), for the host's CPU
LAYER_TARGET=aws ARCH=$ARCH "$VENV/bin/sam" build --template-file template.yaml --build-dir .aws-sam/localstack
"$VENV/bin/sam" deploy --template-file .aws-sam/localstack/template.yaml --stack-name "$STACK" \
  --resolve-s3 --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND \
  --no-confirm-changeset --no-fail-on-empty-changeset --region us-east-1

echo "deployed; waiting up to 5 min for channel '$CHANNEL' to complete a scheduled cycle ..."
"$VENV/bin/python" - "$STACK" "$CHANNEL" <<'PY'
import json, sys, time
import boto3
stack, channel = sys.argv[1], sys.argv[2]
ddb = boto3.client("dynamodb")
deadline = time.time() + 300
while time.time() < deadline:
    items = ddb.query(TableName=f"{stack}-datablock", KeyConditionExpression="pk = :p",
                      ExpressionAttributeValues={":p": {"S": f"channel:{channel}#R#cycle"}})["Items"]
    done = [json.loads(i["body"]["S"]) for i in items]
    done = [c for c in done if c.get("status") in ("SUCCEEDED", "HELD", "FAILED")]
    if done:
        for c in done:
            print(f"cycle {c['generation']}: {c['status']} in {c.get('duration')} s (trigger {c.get('trigger')})")
        sys.exit(0 if any(c["status"] == "SUCCEEDED" for c in done) else 1)
    time.sleep(5)
print("no cycle completed within 5 minutes", file=sys.stderr)
sys.exit(1)
PY
