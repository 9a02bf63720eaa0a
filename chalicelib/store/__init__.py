"""The only code that talks to DynamoDB: the tables, retention horizons, rate limits."""
