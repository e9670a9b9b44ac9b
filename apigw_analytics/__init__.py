"""apigw-analyze: analytics for AWS API Gateway access logs, execution logs and metrics.

Nothing heavy is imported here so that `apigw-analyze --help` stays fast; each subpackage
imports polars, duckdb or numba only when it is used.
"""

__version__ = "0.1.0"
