"""The demo shop's own server, as far as the bot sees it: `POST /_demo/shop/orders` answers the bot's
order lookups (docs/bot.md, `lookup`) with the order's status, after checking the request's Standard
Webhooks signature with the site's bot secret. Orders 1234 and 2345 exist; any other number is a 404
(the flow's fallback); order 9999 takes 5 s, past the bot's 3 s limit."""
import asyncio
import json
import time

ORDERS = {
    "1234": {"status": "shipped", "detail": "It left our workshop on Monday and should arrive by Friday.",
             "status_fr": "expédiée", "detail_fr": "Elle a quitté l’atelier lundi et devrait arriver d’ici vendredi."},
    "2345": {"status": "being prepared", "detail": "It will ship within 2 business days.",
             "status_fr": "en préparation", "detail_fr": "Elle partira sous 2 jours ouvrés."},
}
PATH = "/_demo/shop/orders"
TOLERANCE = 300  # seconds a signature's timestamp may be off


def routes(site_key: str = "demo"):
    from aiohttp import web

    async def orders(request: web.Request) -> web.Response:
        body = await request.read()
        try:
            sent = json.loads(body)
            order, site = str(sent["fields"].get("order_number", "")), str(sent.get("site_key") or site_key)
        except (ValueError, KeyError, AttributeError, TypeError):
            return web.json_response({"error": "bad request"}, status=400)
        if not _signed(request.headers, body, site):  # the bot of any site of the stack, with that site's key
            return web.json_response({"error": "bad signature"}, status=401)
        if order == "9999":
            await asyncio.sleep(5)
        found = ORDERS.get(order)
        return web.json_response(found or {"error": "no such order"}, status=200 if found else 404)

    return [web.post(PATH, orders)]


def _signed(headers, body: bytes, site_key: str) -> bool:
    """The bot's signature over this body, with the site's secret, within TOLERANCE of now."""
    from pynamodb.exceptions import DoesNotExist

    from chalicelib.net import signing
    from chalicelib.store.models import Site
    try:
        secret = Site.get(site_key).bot_secret
    except DoesNotExist:
        return False
    try:
        stamp = int(headers.get("webhook-timestamp", ""))
    except ValueError:
        return False
    if not secret or abs(time.time() - stamp) > TOLERANCE:
        return False
    expected = signing.sign_standard(secret, headers.get("webhook-id", ""), stamp, body)
    return expected in (headers.get("webhook-signature") or "").split()


def flow(port: int) -> dict:
    """The demo flow (infra/local/demo_bot.json) pointed at this stack's shop."""
    from pathlib import Path
    document = json.loads((Path(__file__).with_name("demo_bot.json")).read_text())
    document["nodes"]["order_status"]["url"] = f"http://127.0.0.1:{port}{PATH}"
    return document
