"""What app.py calls: the websocket actions, REST helpers, queue consumers, flow tasks."""
