"""AWS Lambda entry point (API Gateway, Function URL or SQS): ``deploy.lambda_function.handler``.

``lambda_app()`` reads the environment once per container and sets sync mode, so each event is
processed before the reply; see ``events.sources.aws_lambda`` and ``deploy/template.yaml``.
"""

from deploy.runtime import lambda_app
from events.sources import aws_lambda

handler = aws_lambda.handler(lambda_app())
