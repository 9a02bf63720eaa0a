"""The local stack: moto, a websocket gateway like API Gateway's, REST, static web."""
