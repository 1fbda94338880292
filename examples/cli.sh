#!/usr/bin/env bash
# AWS Batch through the AWS CLI, against batchemu: create a compute environment, a job queue and a job
# definition, submit a job, describe it until it ends, list it, and read its output from CloudWatch Logs.
# Every command is a plain `aws` command plus --endpoint-url; drop that flag and it runs against AWS.
#   batchemu serve &          # or: docker run ... (see README)
#   examples/cli.sh           # BATCHEMU_ENDPOINT defaults to http://127.0.0.1:8000
# Exits 0 when the job SUCCEEDED.
set -euo pipefail

endpoint="${BATCHEMU_ENDPOINT:-http://127.0.0.1:8000}"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-testing}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-testing}"
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
name="cli-example-$$-$RANDOM"  # unique names, so the walkthrough can run again against the same emulator
# Built offline by scripts/build-test-images; with an image registry any image with `echo` does (busybox).
image="${BATCHEMU_EXAMPLE_IMAGE:-batchemu-test/busybox:latest}"

batch() { aws batch --endpoint-url "$endpoint" "$@"; }

echo "== create a compute environment, a job queue and a job definition"
batch create-compute-environment --compute-environment-name "$name" --type MANAGED \
  --compute-resources '{"type": "EC2", "minvCpus": 0, "maxvCpus": 4, "instanceTypes": ["optimal"],
    "subnets": ["subnet-1"], "securityGroupIds": ["sg-1"], "instanceRole": "ecsInstanceRole"}' \
  --query computeEnvironmentArn --output text
batch create-job-queue --job-queue-name "$name" --priority 1 \
  --compute-environment-order "order=1,computeEnvironment=$name" \
  --query jobQueueArn --output text
batch register-job-definition --job-definition-name "$name" --type container \
  --container-properties '{"image": "'"$image"'", "command": ["echo", "hello", "Ref::who"],
    "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}]}' \
  --query jobDefinitionArn --output text

echo "== submit a job"
job_id="$(batch submit-job --job-name "$name" --job-queue "$name" --job-definition "$name" \
  --parameters who=batchemu --query jobId --output text)"
echo "job id: $job_id"

echo "== describe it until it ends"
status=""
for _ in $(seq 1 120); do
  status="$(batch describe-jobs --jobs "$job_id" --query 'jobs[0].status' --output text)"
  echo "status: $status"
  [[ "$status" == SUCCEEDED || "$status" == FAILED ]] && break
  sleep 0.5
done

echo "== list the queue's succeeded jobs"
batch list-jobs --job-queue "$name" --job-status SUCCEEDED \
  --query 'jobSummaryList[].[jobId, jobName, status]' --output text

echo "== read its output from CloudWatch Logs"
stream="$(batch describe-jobs --jobs "$job_id" --query 'jobs[0].container.logStreamName' --output text)"
echo "log stream: /aws/batch/job $stream"
for _ in $(seq 1 20); do  # lines reach CloudWatch Logs a moment after they are written
  lines="$(aws logs get-log-events --endpoint-url "$endpoint" --log-group-name /aws/batch/job \
    --log-stream-name "$stream" --start-from-head --query 'events[].message' --output text 2>/dev/null || true)"
  [[ -n "$lines" ]] && break
  sleep 0.5
done
echo "log: ${lines:-<none yet>}"

echo "== $status"
[[ "$status" == SUCCEEDED ]]
