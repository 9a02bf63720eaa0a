"""Parley's entrypoints: websocket routes, REST routes. Routing only; the work is in chalicelib/."""
from chalice import Chalice, CORSConfig, Rate, Response

from chalicelib import bootstrap, events, observability
from chalicelib.bot import flows
from chalicelib.chat import commands, conversations, lifecycle, routing, selfservice, sites
from chalicelib.config import settings
from chalicelib.core import origins, validate
from chalicelib.edges import consumers, flow_tasks, ws
from chalicelib.edges.http import (
    checked_params,
    client_ip,
    error_response,
    json_body,
    preflight,
    translate_errors,
    visitor_cors,
)
from chalicelib.errors import ParleyError
from chalicelib.identity import sessions, tokens
from chalicelib.kb import articles
from chalicelib.mail import incoming, jobs, render
from chalicelib.webhooks import delivery, endpoints
from chalicelib.workspace import admin, privacy, schedule, team

# Logs are powertools' JSON (chalicelib/observability.py), app.log included: chalice adds no handler of its own.
app = Chalice(app_name="parley", configure_logs=False)
app.experimental_feature_flags.update(["WEBSOCKETS"])  # chalice still labels websockets experimental
app.api.cors = CORSConfig(allow_origin="*", allow_headers=["Authorization", "Content-Type"], max_age=600)
app.websocket_api.session = bootstrap.boto_session()  # chalice requires one; we post through `parts.sender`
parts = bootstrap.configure()
# text/plain too: a widget may post without a CORS preflight. Bodies are parsed as JSON either way.
JSON_TYPES = ["application/json", "text/plain"]


@app.middleware("all")
def observe(event, get_response):
    """Every invocation: its ids on the logs, its metrics flushed at the end, a trace segment when on."""
    return observability.handle(event, get_response)


@app.middleware("http")
def check_params(event, get_response):
    """Every REST route's path parameters and query strings are checked as text (docs/protocol.md §1)."""
    return checked_params(event, get_response)


# --- websocket --------------------------------------------------------------------------------

@app.on_ws_connect()
def ws_connect(event):
    data = event.to_dict()
    params = data.get("queryStringParameters") or {}
    try:
        lifecycle.connect(event.connection_id, params.get("token"), origins.from_headers(data.get("headers")),
                         source_ip=client_ip(data.get("headers"), data.get("requestContext")))
    except ParleyError as exc:
        return error_response(exc)


@app.on_ws_disconnect()
def ws_disconnect(event):
    lifecycle.disconnect(event.connection_id)


@app.on_ws_message()
def ws_message(event):
    parts.sender.configure_from_event(event.to_dict()["requestContext"])
    ws.handle_frame(event.connection_id, event.body, parts.sender)


# --- REST: public -----------------------------------------------------------------------------

def _source_ip() -> str | None:
    request = app.current_request
    return client_ip(request.headers, request.context)


@app.route("/v1/health", methods=["GET"])
def health():
    return {"ok": True}


# The widget's routes: CORS per request, for the site's allowed origins only (chalicelib/origins.py).
widget_cors = visitor_cors(lambda: app.current_request)


def _origin():
    return origins.from_headers(app.current_request.headers)


@app.route("/v1/visitor/sessions", methods=["POST"], content_types=JSON_TYPES, cors=False)
@widget_cors
def visitor_session():
    session = sessions.create_visitor_session(json_body(app.current_request), _origin(), source_ip=_source_ip())
    return Response(body=session, status_code=201)


@app.route("/v1/visitor/sessions", methods=["OPTIONS"], cors=False)
@widget_cors
def visitor_session_preflight():
    """Any page's preflight passes: the site is in the body, unknown yet; the POST itself is checked."""
    return preflight("POST,OPTIONS")


@app.route("/v1/sites/{site_key}/availability", methods=["GET"], cors=False)
@widget_cors
def site_availability(site_key):
    locale = validate.string(app.current_request.query_params or {}, "locale", required=False, max_len=35)
    return sites.availability(site_key, _origin(), locale)


@app.route("/v1/sites/{site_key}/availability", methods=["OPTIONS"], cors=False)
@widget_cors
def site_availability_preflight(site_key):
    sites.allowed_site(site_key, _origin())
    return preflight("GET,OPTIONS")


@app.route("/v1/sites/{site_key}/settings", methods=["GET"], cors=False)
@widget_cors
def site_settings(site_key):
    return sites.widget_settings(site_key, _origin())


@app.route("/v1/sites/{site_key}/settings", methods=["OPTIONS"], cors=False)
@widget_cors
def site_settings_preflight(site_key):
    sites.allowed_site(site_key, _origin())
    return preflight("GET,OPTIONS")


@app.route("/v1/articles/search", methods=["GET"], cors=False)
@widget_cors
def search_articles():
    """Public: what the widget suggests while the visitor types (a visitor token, when sent, adds its own limit)."""
    query = app.current_request.query_params or {}
    site = sites.allowed_site(validate.string(query, "site_key", max_len=64), _origin())
    return articles.search(site, query, visitor_id=_visitor_id(), source_ip=_source_ip())


@app.route("/v1/articles/search", methods=["OPTIONS"], cors=False)
@widget_cors
def search_articles_preflight():
    return preflight("GET,OPTIONS")


@app.route("/v1/sites/{site_key}/articles/{article_id}", methods=["GET"], cors=False)
@widget_cors
def site_article(site_key, article_id):
    return articles.public_article(sites.allowed_site(site_key, _origin()), article_id)


@app.route("/v1/sites/{site_key}/articles/{article_id}", methods=["OPTIONS"], cors=False)
@widget_cors
def site_article_preflight(site_key, article_id):
    sites.allowed_site(site_key, _origin())
    return preflight("GET,OPTIONS")


@app.route("/v1/articles/events", methods=["POST"], content_types=JSON_TYPES, cors=False)
@widget_cors
def article_events():
    """Public: suggestions shown, an article opened, "did this answer your question?" answered. A `helpful`
    with the visitor's conversation (and their token) solves it by self-service."""
    body = json_body(app.current_request)
    site = sites.allowed_site(validate.string(validate.obj(body), "site_key", max_len=64), _origin())
    outcome = selfservice.feedback(site, body, _visitor_claims(), parts.sender, source_ip=_source_ip())
    return Response(body=outcome, status_code=202)


@app.route("/v1/articles/events", methods=["OPTIONS"], cors=False)
@widget_cors
def article_events_preflight():
    return preflight("POST,OPTIONS")


def _visitor_claims() -> dict | None:
    """The claims of a bearer visitor token, if one is sent and valid; anyone else is anonymous here."""
    header = (app.current_request.headers or {}).get("authorization") or ""
    if not header.lower().startswith("bearer "):
        return None
    try:
        return tokens.verify_visitor_token(header[7:].strip())
    except ParleyError:
        return None


def _visitor_id() -> str | None:
    claims = _visitor_claims()
    return claims["sub"] if claims else None


@app.route("/v1/agents/login", methods=["POST"], content_types=JSON_TYPES)
@translate_errors
def agent_login():
    return sessions.agent_login(json_body(app.current_request), source_ip=_source_ip())


@app.route("/v1/agents/new-password", methods=["POST"], content_types=JSON_TYPES)
@translate_errors
def agent_new_password():
    return sessions.agent_new_password(json_body(app.current_request), source_ip=_source_ip())


@app.route("/v1/agents/refresh", methods=["POST"], content_types=JSON_TYPES)
@translate_errors
def agent_refresh():
    return sessions.agent_refresh(json_body(app.current_request))


@app.route("/v1/csat/{conversation_id}/{rating}", methods=["GET"])
def csat_link(conversation_id, rating):
    """A one-click rating link from an email: a small page, never JSON."""
    sig = (app.current_request.query_params or {}).get("sig")
    status, page = incoming.rate_from_link(conversation_id, rating, sig, parts.sender)
    return Response(body=page, status_code=status, headers=render.PAGE_HEADERS)


# --- REST: agents -----------------------------------------------------------------------------

def _agent():
    return sessions.agent_caller(app.current_request.headers.get("authorization"))


@app.route("/v1/agents/me", methods=["GET"])
@translate_errors
def agent_me():
    return {"agent": sessions.serialize_agent(_agent()[1])}


@app.route("/v1/conversations", methods=["GET"])
@translate_errors
def list_conversations():
    caller, _ = _agent()
    query = app.current_request.query_params or {}
    view = validate.choice(query, "view", conversations.VIEWS, required=False, default="all")
    limit = validate.integer(query, "limit", minimum=1, maximum=conversations.VIEW_LIMIT_MAX,
                             default=conversations.VIEW_LIMIT_DEFAULT)
    cursor = validate.string(query, "cursor", required=False, max_len=2048)
    return conversations.list_view(caller, view, limit, cursor)


@app.route("/v1/inbox/counts", methods=["GET"])
@translate_errors
def inbox_counts():
    return conversations.counts(_agent()[0])


@app.route("/v1/conversations/{conversation_id}", methods=["GET"])
@translate_errors
def get_conversation(conversation_id):
    caller, _ = _agent()
    conversation = conversations.load(caller, conversation_id)
    messages, has_more = conversations.history(caller, conversation)
    return {"conversation": conversations.serialize(conversation), "messages": messages, "has_more": has_more}


@app.route("/v1/conversations/{conversation_id}", methods=["PATCH"], content_types=JSON_TYPES)
@translate_errors
def patch_conversation(conversation_id):
    caller, _ = _agent()
    conversation = commands.patch(caller, conversation_id, json_body(app.current_request), parts.sender)
    return {"conversation": conversations.serialize(conversation)}


@app.route("/v1/conversations/{conversation_id}/messages", methods=["GET"])
@translate_errors
def conversation_messages(conversation_id):
    caller, _ = _agent()
    _, messages, has_more = conversations.history_page(caller, conversation_id, app.current_request.query_params or {})
    return {"messages": messages, "has_more": has_more}


@app.route("/v1/conversations/{conversation_id}/articles", methods=["GET"])
@translate_errors
def conversation_articles(conversation_id):
    """The knowledge base's answers to the visitor's last question, for the reply."""
    return selfservice.matches(_agent()[0], conversation_id, app.current_request.query_params)


@app.route("/v1/agents", methods=["GET"])
@translate_errors
def list_agents():
    return team.list_agents(_agent()[0])


@app.route("/v1/visitors/{visitor_id}", methods=["GET"])
@translate_errors
def visitor_profile(visitor_id):
    return team.visitor_profile(_agent()[0], visitor_id)


@app.route("/v1/canned-responses", methods=["GET"])
@translate_errors
def list_canned():
    return team.list_canned(_agent()[0])


@app.route("/v1/canned-responses", methods=["POST"], content_types=JSON_TYPES)
@translate_errors
def create_canned():
    caller = _agent()[0]
    return Response(body=team.create_canned(caller, json_body(app.current_request)), status_code=201)


@app.route("/v1/canned-responses/{canned_id}", methods=["PUT"], content_types=JSON_TYPES)
@translate_errors
def update_canned(canned_id):
    return team.update_canned(_agent()[0], canned_id, json_body(app.current_request))


@app.route("/v1/canned-responses/{canned_id}", methods=["DELETE"])
@translate_errors
def delete_canned(canned_id):
    team.delete_canned(_agent()[0], canned_id)
    return Response(body="", status_code=204)


@app.route("/v1/articles", methods=["GET"])
@translate_errors
def list_articles():
    return articles.list_articles(_agent()[0], app.current_request.query_params)


@app.route("/v1/articles/{article_id}", methods=["GET"])
@translate_errors
def get_article(article_id):
    return articles.get(_agent()[0], article_id)


# --- REST: admins -----------------------------------------------------------------------------

@app.route("/v1/articles", methods=["POST"], content_types=JSON_TYPES)
@translate_errors
def create_article():
    return Response(body=articles.create(_agent()[0], json_body(app.current_request)), status_code=201)


@app.route("/v1/articles/{article_id}", methods=["PUT"], content_types=JSON_TYPES)
@translate_errors
def update_article(article_id):
    return articles.update(_agent()[0], article_id, json_body(app.current_request))


@app.route("/v1/articles/{article_id}", methods=["DELETE"])
@translate_errors
def delete_article(article_id):
    articles.delete(_agent()[0], article_id)
    return Response(body="", status_code=204)


@app.route("/v1/agents", methods=["POST"], content_types=JSON_TYPES)
@translate_errors
def create_agent():
    return Response(body=admin.create_agent(_agent()[0], json_body(app.current_request)), status_code=201)


@app.route("/v1/agents/{agent_id}", methods=["PATCH"], content_types=JSON_TYPES)
@translate_errors
def update_agent(agent_id):
    return admin.update_agent(_agent()[0], agent_id, json_body(app.current_request), parts.sender)


@app.route("/v1/agents/{agent_id}", methods=["DELETE"])
@translate_errors
def remove_agent(agent_id):
    admin.remove_agent(_agent()[0], agent_id, parts.sender)
    return Response(body="", status_code=204)


@app.route("/v1/sites/{site_key}", methods=["GET"])
@translate_errors
def get_site(site_key):
    return admin.get_site_settings(_agent()[0], site_key)


@app.route("/v1/sites/{site_key}", methods=["PATCH"], content_types=JSON_TYPES)
@translate_errors
def update_site(site_key):
    return admin.update_site_settings(_agent()[0], site_key, json_body(app.current_request))


@app.route("/v1/sites/{site_key}/hours", methods=["GET"])
@translate_errors
def get_hours(site_key):
    return schedule.read(_agent()[0], site_key)


@app.route("/v1/sites/{site_key}/hours", methods=["PUT"], content_types=JSON_TYPES)
@translate_errors
def put_hours(site_key):
    return schedule.save(_agent()[0], site_key, json_body(app.current_request))


@app.route("/v1/sites/{site_key}/hours", methods=["DELETE"])
@translate_errors
def delete_hours(site_key):
    schedule.remove(_agent()[0], site_key)
    return Response(body="", status_code=204)


@app.route("/v1/sites/{site_key}/bot", methods=["GET"])
@translate_errors
def get_bot(site_key):
    return flows.read(_agent()[0], site_key)


@app.route("/v1/sites/{site_key}/bot", methods=["PUT"], content_types=JSON_TYPES)
@translate_errors
def put_bot(site_key):
    return flows.save(_agent()[0], site_key, json_body(app.current_request))


@app.route("/v1/sites/{site_key}/bot", methods=["DELETE"])
@translate_errors
def delete_bot(site_key):
    flows.remove(_agent()[0], site_key)
    return Response(body="", status_code=204)


@app.route("/v1/sites/{site_key}/bot/preview", methods=["POST"], content_types=JSON_TYPES)
@translate_errors
def preview_bot(site_key):
    return Response(body=flows.preview_ticket(_agent()[0], site_key, json_body(app.current_request)),
                    status_code=201)


@app.route("/v1/contacts/{visitor_id}/block", methods=["POST"], content_types=JSON_TYPES)
@translate_errors
def block_contact(visitor_id):
    return admin.set_blocked(_agent()[0], visitor_id, True, parts.sender)


@app.route("/v1/contacts/{visitor_id}/block", methods=["DELETE"])
@translate_errors
def unblock_contact(visitor_id):
    return admin.set_blocked(_agent()[0], visitor_id, False, parts.sender)


# --- webhooks (admins) -----------------------------------------------------------------------

@app.route("/v1/webhooks", methods=["GET"])
@translate_errors
def list_webhooks():
    return endpoints.list_endpoints(_agent()[0])


@app.route("/v1/webhooks", methods=["POST"], content_types=JSON_TYPES)
@translate_errors
def create_webhook():
    return Response(body=endpoints.create_endpoint(_agent()[0], json_body(app.current_request)), status_code=201)


@app.route("/v1/webhooks/{webhook_id}", methods=["PATCH"], content_types=JSON_TYPES)
@translate_errors
def update_webhook(webhook_id):
    return endpoints.update_endpoint(_agent()[0], webhook_id, json_body(app.current_request))


@app.route("/v1/webhooks/{webhook_id}", methods=["DELETE"])
@translate_errors
def delete_webhook(webhook_id):
    endpoints.delete_endpoint(_agent()[0], webhook_id)
    return Response(body="", status_code=204)


@app.route("/v1/webhooks/{webhook_id}/rotate-secret", methods=["POST"], content_types=JSON_TYPES)
@translate_errors
def rotate_webhook_secret(webhook_id):
    return endpoints.rotate_secret(_agent()[0], webhook_id)


@app.route("/v1/webhooks/{webhook_id}/test", methods=["POST"], content_types=JSON_TYPES)
@translate_errors
def test_webhook(webhook_id):
    return Response(body=endpoints.send_test(_agent()[0], webhook_id), status_code=202)


@app.route("/v1/webhooks/{webhook_id}/deliveries", methods=["GET"])
@translate_errors
def webhook_deliveries(webhook_id):
    return endpoints.list_deliveries(_agent()[0], webhook_id, app.current_request.query_params or {})


@app.route("/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry", methods=["POST"], content_types=JSON_TYPES)
@translate_errors
def retry_webhook_delivery(webhook_id, delivery_id):
    return Response(body=endpoints.retry_delivery(_agent()[0], webhook_id, delivery_id), status_code=202)


# --- REST: data requests (admins) ------------------------------------------------------------

@app.route("/v1/visitors", methods=["GET"])
@translate_errors
def find_visitors():
    return privacy.find_by_email(_agent()[0], app.current_request.query_params or {})


@app.route("/v1/visitors/{visitor_id}/export", methods=["GET"])
@translate_errors
def export_visitor(visitor_id):
    export = privacy.export_visitor(_agent()[0], visitor_id)
    return Response(body=export, status_code=200, headers=privacy.download_headers(visitor_id))


@app.route("/v1/visitors/{visitor_id}", methods=["DELETE"])
@translate_errors
def erase_visitor(visitor_id):
    return privacy.erase_visitor(_agent()[0], visitor_id, app.current_request.query_params or {}, parts.sender)


# --- email -----------------------------------------------------------------------------------

@app.on_sqs_message(queue=settings.email_queue_name, batch_size=10)
def send_email(event):
    """Each job once; only the failed ones are reported back, for SQS to retry (then its DLQ keeps them)."""
    return consumers.consume(event, jobs.run_job, name="email")


@app.on_s3_event(bucket=settings.inbound_bucket, events=["s3:ObjectCreated:*"])
def receive_email(event):
    incoming.receive_from_s3(event.bucket, event.key, parts.sender)


# --- Step Functions tasks and queues -----------------------------------------------------------

@app.lambda_function(name="flow_task")
def flow_task(event, context):
    """Every task step of infra/statemachines/*.asl.json; `action` names the step."""
    return flow_tasks.run_task(event, parts.sender)


@app.on_sqs_message(queue=settings.webhook_queue_name, batch_size=1)
def deliver_webhook(event):
    """Team alerts (a failure is retried by SQS) and tries of endpoint deliveries (which schedule their own)."""
    return consumers.consume(event, delivery.handle_job, name="webhook", with_message_id=True)


# --- domain events ----------------------------------------------------------------------------

@app.on_dynamodb_record(stream_arn=settings.conversations_stream_arn, batch_size=100)
def publish_conversation_events(event):
    """conversation.* and csat.submitted on EventBridge, from the conversations table's stream."""
    return events.from_stream(event.to_dict()["Records"])


@app.on_dynamodb_record(stream_arn=settings.messages_stream_arn, batch_size=100)
def publish_message_events(event):
    """message.created on EventBridge, from the messages table's stream."""
    return events.from_stream(event.to_dict()["Records"])


@app.on_sqs_message(queue=settings.events_queue_name, batch_size=10)
def dispatch_webhooks(event):
    """Each domain event → one delivery job per subscribed endpoint of its workspace."""
    # Idempotent by itself: one delivery record per (event, endpoint), created on condition.
    return consumers.consume(event, delivery.dispatch_record, name="events", idempotent=False)


# --- schedules --------------------------------------------------------------------------------

@app.schedule(Rate(1, unit=Rate.MINUTES))
def sweep_presence(event):
    return routing.sweep(parts.sender)
