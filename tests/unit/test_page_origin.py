"""Which page URLs a site owns, for links in emails (chalicelib/origins.owns_page)."""
from types import SimpleNamespace

from chalicelib.core import origins


def site(*allowed):
    return SimpleNamespace(settings=SimpleNamespace(allowed_origins=list(allowed) if allowed else None))


def test_a_page_origin_is_written_as_browsers_send_it():
    assert origins.page_origin("https://Shop.example:443/help?x=1") == "https://shop.example"
    assert origins.page_origin("http://127.0.0.1:8000/?site=demo") == "http://127.0.0.1:8000"
    for url in ("javascript:alert(1)//https://x", "https://u:p@evil.example/", "ftp://shop.example/", "", None):
        assert origins.page_origin(url) is None


def test_a_site_owns_its_listed_origins_and_the_products_own_pages_only():
    shop = site("https://shop.example", "https://*.shop.example")
    assert origins.owns_page(shop, "https://shop.example:443/help")
    assert origins.owns_page(shop, "https://eu.shop.example/a")
    assert not origins.owns_page(shop, "https://shop.example.evil/a")
    assert not origins.owns_page(site(), "https://shop.example/")  # no list: no page of its own here
    assert origins.owns_page(site(), "https://d1.cloudfront.net/x", "https://d1.cloudfront.net")
    assert not origins.owns_page(None, "https://evil.example/", "", "https://d1.cloudfront.net")
