"""Adapters to AWS services: the boto3 clients, the websocket sender, Step Functions."""
