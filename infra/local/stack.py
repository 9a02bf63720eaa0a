"""Starts the whole product on one machine with no AWS account (`make dev`, and the protocol tests).

moto plays DynamoDB, Cognito, SQS, SES and Step Functions (the flows of infra/statemachines/ on its
ASL interpreter, their Lambda task run in this process), and EventBridge with the tables' streams
(events.py reads them and runs the webhook pipeline), in a process of its own (motohost.py: moto's work
on one core, the gateway's and the app's on the other); the gateway in gateway.py plays API Gateway's
WebSocket API; Chalice's LocalGateway routes REST. The app's code is the same as on AWS: only endpoints
differ, through AWS_ENDPOINT_URL and PARLEY_WS_CALLBACK_URL.

Everything listens on 127.0.0.1 only. The app's AWS credentials and the Cognito signing key are
made fresh at every start (keys.py); README.md says what the local stack still does not protect.
"""
import argparse
import asyncio
import hashlib
import json
import logging
import os
import signal
import socket
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from infra import widget

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
REGION = "us-east-1"
PASSWORD = "demo-password"
SEED = {
    "demo": {"workspace": "Demo Shop", "agents": [("agent@example.com", "Alex Agent", "agent"),
                                                  ("admin@example.com", "Ada Admin", "admin")]},
    "demo-b": {"workspace": "Other Company", "agents": [("agent-b@example.com", "Blake Agent", "agent")]},
    # The flows at demo speed (seconds instead of minutes and days), in a workspace of their own.
    "demo-quick": {"workspace": "Quick Flows Ltd", "agents": [("quick@example.com", "Quinn Quick", "admin")],
                   "settings": {"queue_timeout": 3, "inactivity_wait": 5, "pending_wait": 5,
                                "survey_window": 5, "close_after": 10}},
}
# More sites of the same workspaces, with other settings (the widget's tests use them). The bot's tests own
# theirs, so the flows they install greet no one on the shared sites: demo-bot for the widget's visitor journeys
# (tests/browser/test_widget_bot.py), demo-bot-console for the console's bot editor.
EXTRA_SITES = {"demo-prechat": ("demo", {"prechat_enabled": True}), "demo-bot": ("demo", {}),
               "demo-bot-console": ("demo", {})}
# A workspace with no agents at all: its widget is always offline.
EMPTY_SITES = {"demo-offline": "Night Owls Ltd"}
CANNED = [("hello", "Hi {{visitor.name}}, I'm {{agent.name}}. How can I help?"),
          ("thanks", "Thanks for reaching out, {{visitor.name}}! Anything else I can do?"),
          ("shipping", "Orders ship within 2 business days; you'll get a tracking link by email.")]
IDENTITY_SECRET = "demo-identity-secret"
# The demo shop's knowledge base: the first articles of each language of the tests' bilingual fixture
# (a fictional shop of handmade ceramics), published for every site of the workspace.
KB_FIXTURE = ROOT / "tests" / "data" / "kb_fixture.json"
KB_SEED_PER_LANGUAGE = 20  # shipping, returns, payment, gift cards, care of the ceramics, the account
HOST = "127.0.0.1"  # never 0.0.0.0: moto answers anyone unauthenticated, and the demo logins are public
# aiohttp refuses a request line or header over 8,190 bytes with its own 400; raised so a long token
# (in ?token= or Authorization) reaches $connect or the app and gets the documented 401.
MAX_REQUEST_LINE = MAX_HEADER_FIELD = 64 * 1024
# How long a thread may hold the GIL while others wait for it (Python's default: 5 ms). The stack's threads
# mostly wait on sockets, and each wake-up queued behind a running thread for up to the whole interval: at
# 100 conversations a frame's half-dozen calls to moto waited out enough of them that deliveries fell behind
# (52 of 67 messages/s, p99 3.4 s). At 0.5 ms: 66 of 67, p99 0.4 s, and less CPU per message (bench/load.py;
# 0.2 ms was worse again). moto's process uses the same (motohost.py).
SWITCH_INTERVAL = float(os.environ.get("PARLEY_SWITCH_INTERVAL") or 0.0005)
POLLERS = 4  # the email queue, the events queue, the webhook queue, the tables' streams

log = logging.getLogger("parley.local")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start_moto() -> tuple[object, str]:
    from moto.server import ThreadedMotoServer

    from .fidelity import install
    from .keys import sign_cognito_with_fresh_key
    install()
    sign_cognito_with_fresh_key()  # before configure_environment creates the pool
    port = free_port()
    server = ThreadedMotoServer(ip_address=HOST, port=port, verbose=False)
    server.start()
    return server, f"http://{HOST}:{port}"


def configure_environment(moto_url: str, port: int, credentials) -> None:
    """Point every AWS client at moto with the stack's own credentials (the gateway checks them), and
    create the Cognito pool the app verifies tokens against."""
    for inherited in ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE"):
        os.environ.pop(inherited, None)  # env credentials win over a profile; a session token would ride along
    os.environ.update({
        "AWS_ENDPOINT_URL": moto_url, "AWS_ACCESS_KEY_ID": credentials.access_key,
        "AWS_SECRET_ACCESS_KEY": credentials.secret_key,
        "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION,
        "PARLEY_STAGE": "local", "PARLEY_TABLE_PREFIX": "parley-local-",
        "PARLEY_TOKEN_SECRET": os.environ.get("PARLEY_TOKEN_SECRET") or "local-only-secret-" + os.urandom(8).hex(),
        "PARLEY_WS_CALLBACK_URL": f"http://127.0.0.1:{port}/_gateway",
        # Agents' sockets only from this stack's own console page (chalicelib/origins.py).
        "PARLEY_CONSOLE_ORIGIN": ",".join(own_origins(port)),
    })
    import boto3
    idp = boto3.client("cognito-idp", region_name=REGION)
    # The seeded logins use a memorable password; a deployed pool keeps Cognito's stricter policy.
    policy = {"MinimumLength": 8, "RequireUppercase": False, "RequireLowercase": False,
              "RequireNumbers": False, "RequireSymbols": False}
    pool = idp.create_user_pool(PoolName="parley-local", UsernameAttributes=["email"],
                                AutoVerifiedAttributes=["email"],
                                Policies={"PasswordPolicy": policy})["UserPool"]
    client = idp.create_user_pool_client(
        UserPoolId=pool["Id"], ClientName="console", GenerateSecret=False,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]
    os.environ.update({
        "PARLEY_COGNITO_POOL_ID": pool["Id"], "PARLEY_COGNITO_CLIENT_ID": client["ClientId"],
        "PARLEY_COGNITO_JWKS_URL": f"{moto_url}/{pool['Id']}/.well-known/jwks.json",
    })
    from . import outbox
    outbox.configure(port)


def configure_flows(moto_url: str) -> None:
    """The state machines on moto's interpreter, the webhook queue (with its dead-letter queue), and
    the environment that switches them on. Their Lambda task runs here: see install_lambda_dispatch.
    (Loading moto's ASL parser costs about a second of the stack's start; it is CPU-bound, so doing
    it in a thread beside the seeding saves nothing.)"""
    import json
    import urllib.request

    import boto3

    from .flows import MOTO_CONFIG, create_state_machines
    # The interpreter calls Lambda at localhost:MOTO_PORT (it is moto itself, in this process).
    os.environ["MOTO_PORT"] = moto_url.rsplit(":", 1)[-1]
    request = urllib.request.Request(f"{moto_url}/moto-api/config", data=json.dumps(MOTO_CONFIG).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    urllib.request.urlopen(request, timeout=10).read()
    env = create_state_machines(boto3.client("stepfunctions", region_name=REGION))
    sqs = boto3.client("sqs", region_name=REGION)
    dlq = sqs.create_queue(QueueName="parley-local-webhooks-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = sqs.create_queue(QueueName="parley-local-webhooks", Attributes={
        "VisibilityTimeout": "30",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"})})["QueueUrl"]
    os.environ.update({**env, "PARLEY_WEBHOOK_QUEUE_URL": queue, "PARLEY_WEBHOOK_DLQ_URL": dlq})
    from . import events
    events.configure(moto_url)  # domain events on a bus, the webhooks built on them


def own_origins(port: int) -> list[str]:
    """Where this stack's pages (the demo site, the console) are served from, as browsers name them."""
    return [f"http://127.0.0.1:{port}", f"http://localhost:{port}"]


def seed(port: int) -> dict:
    """Two workspaces, their sites and agents; returns what to print. Every site accepts the widget on
    this stack's own pages only (its allowed_origins)."""
    import boto3

    from chalicelib.core.clock import iso
    from chalicelib.store.models import Agent, CannedResponse, Site, SiteSettings, Workspace
    from chalicelib.store.tables import create_tables
    create_tables()
    idp = boto3.client("cognito-idp", region_name=REGION)
    pool = os.environ["PARLEY_COGNITO_POOL_ID"]
    stamp = iso()
    allowed = {"allowed_origins": own_origins(port)}
    for site_key, spec in SEED.items():
        workspace_id = f"ws_{site_key.replace('-', '_')}"
        Workspace(workspace_id, name=spec["workspace"], created_at=stamp).save()
        Site(site_key, workspace_id=workspace_id, name=spec["workspace"], identity_secret=IDENTITY_SECRET,
             settings=SiteSettings(**allowed, **spec.get("settings", {})), created_at=stamp).save()
        for email, name, role in spec["agents"]:
            user = idp.admin_create_user(UserPoolId=pool, Username=email, MessageAction="SUPPRESS",
                                         UserAttributes=[{"Name": "email", "Value": email},
                                                         {"Name": "email_verified", "Value": "true"},
                                                         {"Name": "name", "Value": name}])["User"]
            idp.admin_set_user_password(UserPoolId=pool, Username=email, Password=PASSWORD, Permanent=True)
            sub = next(a["Value"] for a in user["Attributes"] if a["Name"] == "sub")
            Agent(sub, workspace_id=workspace_id, email=email, name=name, role=role, capacity=3,
                  created_at=stamp).save()
        for i, (shortcut, text) in enumerate(CANNED):
            CannedResponse(workspace_id, f"cr_seed_{i}", shortcut=shortcut, text=text, updated_at=stamp).save()
    for site_key, name in EMPTY_SITES.items():
        workspace_id = f"ws_{site_key.replace('-', '_')}"
        Workspace(workspace_id, name=name, created_at=stamp).save()
        Site(site_key, workspace_id=workspace_id, name=name, identity_secret=IDENTITY_SECRET,
             settings=SiteSettings(**allowed), created_at=stamp).save()
    for site_key, (owner, settings) in EXTRA_SITES.items():
        Site(site_key, workspace_id=f"ws_{owner.replace('-', '_')}", name=SEED[owner]["workspace"],
             identity_secret=IDENTITY_SECRET, settings=SiteSettings(**allowed, **settings), created_at=stamp).save()
    seed_articles("ws_demo", stamp)
    if os.environ.get("PARLEY_DEMO_BOT", "on") != "off":
        seed_bot(port)
    return SEED


def seed_bot(port: int, site_key: str = "demo") -> dict:
    """The demo shop's bot (infra/local/demo_bot.json): a greeting, order status from the local shop
    (infra/local/shop.py), shipping and returns articles, and a choice between Sales and Support, whose
    groups the demo agents join (Alex: support, Ada: sales). The test stacks keep `demo` without it
    (PARLEY_DEMO_BOT=off, tests/conftest.py): their tests expect conversations to start `queued`."""
    from chalicelib.bot import flows
    from chalicelib.core.caller import Caller
    from chalicelib.store.models import Agent, Site

    from . import shop
    site = Site.get(site_key)
    team = {a.email: a for a in Agent.by_workspace.query(site.workspace_id)}
    for email, groups in (("agent@example.com", ["support"]), ("admin@example.com", ["sales"])):
        if email in team:
            team[email].update(actions=[Agent.groups.set(groups)])
    admin = team["admin@example.com"]
    return flows.save(Caller.for_agent(admin.id, site.workspace_id, name=admin.name, role="admin"), site_key,
                      shop.flow(port))


def seed_articles(workspace_id: str, stamp: str) -> int:
    """The demo shop's articles, in English and French, and their search indexes."""
    from chalicelib.kb import articles
    from chalicelib.store.models import Article
    fixture = json.loads(KB_FIXTURE.read_text())
    count = 0
    for lang in ("en", "fr"):
        for doc in fixture[lang]["articles"][:KB_SEED_PER_LANGUAGE]:
            article_id = "a_" + hashlib.sha256(f"seed#{lang}#{doc['id']}".encode()).hexdigest()[:32]  # stable
            Article(workspace_id, article_id, title=doc["title"],
                    body=doc["body"], locale=lang, questions=doc["questions"], status="published",
                    created_at=stamp, updated_at=stamp).save()
            count += 1
        articles.rebuild(workspace_id, lang)
    return count


def build_web_app(chalice_app, executor: ThreadPoolExecutor, credentials):
    from aiohttp import web
    from chalice.config import Config
    from chalice.local import LocalGateway, LocalGatewayException

    from .gateway import WebSocketGateway

    rest = LocalGateway(chalice_app, Config.create(chalice_app=chalice_app, lambda_timeout=30))
    rest_lock = threading.Lock()  # chalice keeps the current request on the app object: one at a time
    gateway = WebSocketGateway(chalice_app, executor, credentials, region=REGION)

    def call_rest(method: str, path: str, headers: dict, body: bytes) -> dict:
        with rest_lock:
            try:
                return rest.handle_request(method, path, headers, body)
            except LocalGatewayException as exc:
                return {"statusCode": exc.CODE, "headers": exc.headers, "body": exc.body}

    async def rest_handler(request: web.Request) -> web.Response:
        body = await request.read()
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(executor, call_rest, request.method, request.path_qs,
                                            dict(request.headers), body)
        payload = result.get("body") or b""
        headers = {k: v for k, v in (result.get("headers") or {}).items() if k.lower() != "content-length"}
        if not any(k.lower() == "content-type" for k in headers):
            # A view that returns a dict sets no Content-Type: API Gateway (and `chalice local`) then send
            # application/json, where aiohttp would say application/octet-stream.
            headers["Content-Type"] = "application/json"
        return web.Response(status=result["statusCode"], headers=headers,
                            body=payload.encode() if isinstance(payload, str) else payload)

    async def index(_):
        return web.FileResponse(WEB / "demo" / "index.html")

    async def console_index(_):
        return web.FileResponse(WEB / "console" / "index.html")

    @web.middleware
    async def static_headers(request, handler):
        response = await handler(request)
        if not request.path.startswith(("/v1/", "/_gateway/")):
            response.headers.setdefault("Cache-Control", "no-cache")
            kind = response.headers.get("Content-Type", "")
            if kind.startswith(("text/", "application/javascript")) and "charset" not in kind:
                response.headers["Content-Type"] = f"{kind}; charset=utf-8"
        return response

    app = web.Application(client_max_size=1024 * 1024, middlewares=[static_headers])
    app["gateway"] = gateway
    app.router.add_routes(gateway.routes("/ws", "/_gateway"))
    # Any character, newlines included: API Gateway passes an encoded %0A in a path parameter to the app.
    app.router.add_route("*", "/v1/{tail:[\\s\\S]*}", rest_handler)
    from . import shop
    app.router.add_routes(shop.routes())  # the demo shop's order lookups, for its bot
    app.router.add_get("/", index)
    app.router.add_get("/console", lambda r: web.HTTPFound("/console/"))
    app.router.add_get("/console/", console_index)
    for prefix in ("console", "demo"):
        if (WEB / prefix).exists():
            app.router.add_static(f"/{prefix}/", WEB / prefix)
    # The widget as shipped: the files `make widget` builds (infra/widget.py), not its source or build tools.
    for path in widget.shipped_paths():
        app.router.add_get(f"/widget/{path.name}", lambda _request, path=path: web.FileResponse(path))

    async def shutdown(app):
        await gateway.close_all()
    app.on_shutdown.append(shutdown)
    return app


async def run_schedules(chalice_app, executor: ThreadPoolExecutor, stop: asyncio.Event) -> None:
    """EventBridge's part: invoke the app's scheduled functions (the presence sweeper) on a timer,
    more often than on AWS so grace periods play out at local speed."""
    from .gateway import LambdaContext
    interval = float(os.environ.get("PARLEY_SWEEP_INTERVAL", "5"))
    handler = chalice_app.handler_map["sweep_presence"]
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
        except TimeoutError:
            event = {"version": "0", "id": "local", "detail-type": "Scheduled Event", "source": "aws.events",
                     "account": "123456789012", "time": "", "region": REGION, "resources": [], "detail": {}}
            try:
                await loop.run_in_executor(executor, handler, event, LambdaContext("sweep_presence"))
            except Exception:
                log.exception("scheduled sweep failed")


def banner(port: int, seeded: dict) -> str:
    base = f"http://127.0.0.1:{port}"
    lines = ["", "Parley is running (local stack: moto, websocket gateway, REST, web).", "",
             f"  Demo site with the widget   {base}/",
             f"  Agent console               {base}/console/",
             f"  REST API                    {base}/v1/health",
             f"  WebSocket API               ws://127.0.0.1:{port}/ws?token=TOKEN",
             f"  Emails SES would have sent  {base}/_local/outbox",
             f"  Reply by email (raw POST)   {base}/_local/inbound",
             f"  The demo shop's order API   {base}/_demo/shop/orders (the bot's lookups: try order 1234)", "",
             f"  Logins (password: {PASSWORD}):"]
    for site_key, spec in seeded.items():
        for email, _, role in spec["agents"]:
            lines.append(f"    {email:<24} {role:<6} site {site_key}")
    lines += ["", "  Ctrl-C stops it.", ""]
    return "\n".join(lines)


def write_ready_file(path: str, port: int, moto_url: str, credentials) -> None:
    """What tests/conftest.py's stack fixture reads, one value a line: port, moto URL, pool id, then the
    app's access key id and secret (so tests can sign as the app). Readable by this user only, and
    renamed into place so a reader never sees half of it."""
    lines = [str(port), moto_url, os.environ["PARLEY_COGNITO_POOL_ID"], credentials.access_key, credentials.secret_key]
    partial = f"{path}.partial"
    with open(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
        out.write("\n".join(lines) + "\n")
    os.replace(partial, path)


async def serve(port: int, ready_file: str | None) -> None:
    from aiohttp import web

    from . import faults
    from .keys import fresh_credentials
    # Where moto runs and how the app reaches it: "process" (moto in a process of its own, motohost.py: both
    # cores), "in-process" (moto in this process, inprocess.py) or "http" (the same over moto's HTTP
    # server): the last two for the bench's comparisons.
    transport = os.environ.get("PARLEY_LOCAL_MOTO_TRANSPORT", "process")
    loaded = {}  # the Chalice app, once imported: moto's process asks it to run the flows' Lambda task
    if transport == "process":
        from .flows import run_task
        from .motohost import MotoProcess, install
        moto_server = MotoProcess(lambda name, body: run_task(loaded["app"].handler_map[name], name, body))
        moto_url = moto_server.url
        install(moto_url, REGION, moto_server.channel)
    else:
        moto_server, moto_url = start_moto()
        if transport != "http":
            from .inprocess import install
            install(moto_url, REGION)
    # After the transport, which every session made from now on gets (boto3's default one too), and before
    # any client exists: they are hooked as they are made.
    injector = faults.from_environment()
    credentials = fresh_credentials()
    try:
        configure_environment(moto_url, port, credentials)
        configure_flows(moto_url)
        seeded = seed(port)
        from . import events
        events.configure_streams()  # the streams exist now that the tables do
        import app as chalice_module  # after the environment: chalicelib reads it on import
        loaded["app"] = chalice_module.app
        if transport != "process":
            from .flows import install_lambda_dispatch
            install_lambda_dispatch(lambda name: chalice_module.app.handler_map[name])
        executor = ThreadPoolExecutor(max_workers=32, thread_name_prefix="lambda")
        # The queue and stream pollers on threads of their own: a backlog drains without taking the
        # threads websocket and REST requests run on (and each poller has at most one batch in flight).
        pollers = ThreadPoolExecutor(max_workers=POLLERS, thread_name_prefix="poller")
        from . import outbox
        web_app = build_web_app(chalice_module.app, executor, credentials)
        web_app.router.add_routes(outbox.routes(executor, chalice_module.parts.sender,
                                                getattr(moto_server, "sent_emails", outbox.sent_in_this_process)))
        if transport != "http":  # the app's management calls (deliveries) answered without HTTP too
            import boto3
            events_of = boto3.DEFAULT_SESSION._session.get_component("event_emitter")  # the sender's clients'
            events_of.register("before-send", web_app["gateway"].in_process(
                os.environ["PARLEY_WS_CALLBACK_URL"], asyncio.get_running_loop()),
                unique_id="parley-gateway-in-process")
        if injector is not None:
            loop = asyncio.get_running_loop()
            gateway = web_app["gateway"]
            injector.on_gone = lambda cid: asyncio.run_coroutine_threadsafe(gateway.drop(cid), loop)
            web_app.router.add_routes(faults.routes(injector))
            injector.arm()  # the seeding is done: from here on the app's calls may fail
        runner = web.AppRunner(web_app, access_log=None, max_line_size=MAX_REQUEST_LINE,
                               max_field_size=MAX_HEADER_FIELD)
        await runner.setup()
        site = web.TCPSite(runner, HOST, port)
        await site.start()
        print(banner(port, seeded), flush=True)
        if ready_file:
            write_ready_file(ready_file, port, moto_url, credentials)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        schedules = asyncio.ensure_future(run_schedules(chalice_module.app, executor, stop))
        emails = asyncio.ensure_future(outbox.poll_email_queue(chalice_module.app, pollers, stop))
        consumers = asyncio.ensure_future(events.run(chalice_module.app, pollers, stop))  # streams, queues
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        print("Stopping...", flush=True)
        schedules.cancel()
        emails.cancel()
        consumers.cancel()
        await runner.cleanup()
        executor.shutdown(wait=False, cancel_futures=True)
        pollers.shutdown(wait=False, cancel_futures=True)
    finally:
        moto_server.stop()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Run Parley locally.")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--ready-file", help="write the port here once serving (for tests)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "WARNING"),
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's request log
    sys.path.insert(0, str(ROOT))
    sys.setswitchinterval(SWITCH_INTERVAL)
    try:  # `make dev` and `make test` have built it; a source edited since is built here
        if widget.ensure_built():
            print("Built the widget from web/widget/src/ (make widget).", flush=True)
    except widget.BuildError as exc:
        log.error("the widget is not built, /widget/ serves %s: %s",
                  "an old build" if all(p.exists() for p in widget.shipped_paths()) else "nothing", exc)
    try:
        asyncio.run(serve(args.port, args.ready_file))
    except OSError as exc:
        print(f"Cannot start: {exc}. Is port {args.port} in use? Try PORT=8001 make dev", file=sys.stderr)
        return 1
    print("Stopped.", flush=True)
    return 0
