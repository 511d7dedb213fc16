"""The CloudWatch Logs API, served from logs infrec renders from its own state (see `cloudwatch`)."""
