"""AWS helpers: bundles in S3, the SigV4 client for function URLs, boto3 clients with bounded timeouts.

Kept apart from the serving core (a contract in pyproject.toml): loading and running a model never imports
boto3; a deployment pays for it only when it reads bundles or an API key from AWS. Nothing is imported here.
"""
