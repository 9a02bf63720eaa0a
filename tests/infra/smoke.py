"""The deploy rehearsal's smoke test: the app, configured only by what infra/deploy.py wrote, on the stack.

Run in a fresh process (`python -m tests.infra.smoke PROJECT_DIR STAGE`) by tests/infra/test_rehearsal.py,
with the stage's environment from PROJECT_DIR/.chalice/config.json already set (chalicelib reads it on
import) and AWS_ENDPOINT_URL pointing at the moto server that holds the stack. Prints one JSON report.
"""
import json
import os
import sys
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "tests" / "events"
AGENT_EMAIL = os.environ.get("SMOKE_AGENT_EMAIL", "")
AGENT_TEMPORARY_PASSWORD = os.environ.get("SMOKE_AGENT_TEMPORARY_PASSWORD", "")


def ws_event(kind: str, connection_id: str, **fields) -> dict:
    event = json.loads((EVENTS / f"ws_{kind}.json").read_text())
    event["requestContext"]["connectionId"] = connection_id
    event.update(fields)
    return event


def main(project_dir: str, stage: str) -> dict:
    sys.path.insert(0, str(ROOT))
    from chalice.test import Client

    import app as parley
    from chalicelib.config import settings
    report: dict = {"table_prefix": settings.table_prefix}
    dynamodb = boto3.client("dynamodb", region_name=settings.region)

    with Client(parley.app, stage_name=stage, project_dir=project_dir) as client:
        report["health"] = client.http.get("/v1/health").status_code

        session = client.http.post("/v1/visitor/sessions", headers={"Content-Type": "application/json"},
                                   body=json.dumps({"site_key": "main", "name": "Rehearsal Visitor"}))
        report["visitor_session"] = session.status_code
        visitor = json.loads(session.body)
        report["widget_settings"] = client.http.get("/v1/sites/main/settings").status_code

        connect = client.lambda_.invoke("ws_connect", ws_event("connect", "rehearsal-visitor",
                                                               queryStringParameters={"token": visitor["token"]}))
        report["visitor_connect"] = (connect.payload or {}).get("statusCode", 200)
        frame = {"action": "start", "ref": "1", "text": "Hello from the deploy rehearsal"}
        client.lambda_.invoke("ws_message", ws_event("message", "rehearsal-visitor", body=json.dumps(frame)))

        # The conversation through the stack's visitor-index, its message in the stack's messages table.
        found = dynamodb.query(TableName=settings.table("conversations"), IndexName="visitor-index",
                               KeyConditionExpression="visitor_id = :v",
                               ExpressionAttributeValues={":v": {"S": visitor["visitor_id"]}})["Items"]
        report["conversations"] = len(found)
        conversation_id = found[0]["id"]["S"] if found else ""
        report["conversation_status"] = found[0]["status"]["S"] if found else None
        messages = dynamodb.query(TableName=settings.table("messages"), KeyConditionExpression="conversation_id = :c",
                                  ExpressionAttributeValues={":c": {"S": conversation_id}})["Items"]
        report["messages"] = [m["text"]["S"] for m in messages]
        executions = boto3.client("stepfunctions", region_name=settings.region).list_executions(
            stateMachineArn=settings.handoff_arn)["executions"]
        report["handoff_executions"] = [e["name"] for e in executions]

        # The first admin, invited by deploy.py: first sign-in with the temporary password, then a new one.
        login = client.http.post("/v1/agents/login", headers={"Content-Type": "application/json"},
                                 body=json.dumps({"email": AGENT_EMAIL, "password": AGENT_TEMPORARY_PASSWORD}))
        challenge = json.loads(login.body)
        report["agent_first_login"] = [login.status_code, challenge.get("error", {}).get("code")]
        session = challenge.get("error", {}).get("session")
        chosen = client.http.post("/v1/agents/new-password", headers={"Content-Type": "application/json"},
                                  body=json.dumps({"email": AGENT_EMAIL, "session": session,
                                                   "password": "Rehearsal-passw0rd"}))
        report["agent_new_password"] = chosen.status_code
        token = json.loads(chosen.body).get("token", "")
        me = client.http.get("/v1/agents/me", headers={"Authorization": f"Bearer {token}"})
        report["agent_me"] = [me.status_code, json.loads(me.body).get("agent", {}).get("role")]
        console = json.loads((Path(project_dir) / ".chalice" / "config.json").read_text())[
            "stages"][stage]["environment_variables"].get("PARLEY_CONSOLE_ORIGIN", "")
        connect = client.lambda_.invoke("ws_connect", ws_event(  # from the console's page, as agents do
            "connect", "rehearsal-agent", queryStringParameters={"token": token},
            headers={"Host": "abc123.execute-api.us-east-1.amazonaws.com", "Origin": console}))
        report["agent_connect"] = (connect.payload or {}).get("statusCode", 200)
        inbox = client.http.get("/v1/conversations?view=unassigned", headers={"Authorization": f"Bearer {token}"})
        report["agent_sees"] = [c["id"] for c in json.loads(inbox.body).get("items", [])]
        report["conversation_id"] = conversation_id
    return report


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2])))
