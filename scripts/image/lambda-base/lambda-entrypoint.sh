#!/bin/sh
# As in public.ecr.aws/lambda/python: the handler name is the one argument (the image's CMD). Outside Lambda
# (no AWS_LAMBDA_RUNTIME_API) the Runtime Interface Emulator serves the Runtime API and runs the bootstrap.
if [ $# -ne 1 ]; then
  echo "entrypoint requires the handler name to be the first argument" 1>&2
  exit 142
fi
export _HANDLER="$1"

RUNTIME_ENTRYPOINT=/var/runtime/bootstrap
if [ -z "${AWS_LAMBDA_RUNTIME_API}" ]; then
  exec /usr/local/bin/aws-lambda-rie $RUNTIME_ENTRYPOINT
else
  exec $RUNTIME_ENTRYPOINT
fi
