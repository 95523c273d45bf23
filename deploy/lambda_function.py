"""AWS Lambda entry point (API Gateway, Function URL or SQS): handler ``lambda_function.handler``
(this file copied beside the installed runhook; see ``deploy/template.yaml``).

``lambda_app()`` reads the environment once per container and sets sync mode, so each event is
processed before the reply; see ``runhook.events.sources.aws_lambda`` and ``deploy/template.yaml``.
"""

from runhook.events.sources import aws_lambda
from runhook.runtime import lambda_app

handler = aws_lambda.handler(lambda_app())
