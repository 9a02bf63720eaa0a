"""Where a webhook may be posted (chalicelib/webhooks/urls.py): the URL's own rules, and the checks of
the addresses a host resolves to and the peer a socket reached. test_webhook_addresses.py holds the IP
address rules themselves (address_problem and the IPv6 forms that carry an IPv4 address).

Name resolution and connections are faked per test; the suite's guard refuses any real one."""
import socket

import pytest

from chalicelib.config import settings
from chalicelib.net import urls
from chalicelib.net.urls import url_problem, valid_url


@pytest.fixture
def no_loopback(monkeypatch):
    monkeypatch.setattr(settings, "webhook_allow_loopback", False)


@pytest.mark.parametrize("url, problem", [
    (None, "must be a URL"), (5, "must be a URL"), ("", "must be a URL"), (["https://x.example/"], "must be a URL"),
    ("https://x.example/" + "a" * 2031, "must be at most 2048 characters"),
    ("https://x.example:99999/", "is not a valid URL"), ("https://x.example:port/", "is not a valid URL"),
    ("https://[::1/", "is not a valid URL"),
    ("ftp://x.example/", "must be an https:// URL"), ("javascript:alert(1)", "must be an https:// URL"),
    ("https:///hook", "must be an https:// URL"), ("x.example/hook", "must be an https:// URL"),
    ("http://x.example/hook", "must be an https:// URL"),  # plain http only to this machine, where allowed
    ("https://user:pw@x.example/", "must not contain a user name or password"),
    ("https://token@x.example/", "must not contain a user name or password"),
    ("https://10.0.0.1/hook", "must not point at a private or reserved address"),
    ("https://169.254.169.254/latest/meta-data", "must not point at a private or reserved address"),
    ("https://[fd00::1]/", "must not point at a private or reserved address"),
])
def test_urls_that_are_refused_and_why(url, problem):
    assert url_problem(url) == problem
    assert not valid_url(url)


def test_the_longest_url_that_fits():
    url = "https://x.example/" + "a" * (urls.MAX_URL - len("https://x.example/"))
    assert len(url) == urls.MAX_URL and url_problem(url) is None


@pytest.mark.parametrize("url", ["https://hooks.example.com/parley?x=1", "HTTPS://Hooks.Example.COM:8443/p",
                                 "https://8.8.8.8/hook", "https://[2606:4700::1111]/hook"])
def test_https_to_a_public_host_or_address_passes(no_loopback, url):
    assert url_problem(url) is None and valid_url(url)


def test_a_hostname_passes_unresolved_its_addresses_are_checked_at_each_post(no_loopback):
    # The guard refuses getaddrinfo: had url_problem resolved the name, this would raise.
    assert url_problem("https://internal.corp.example/hook") is None
    assert url_problem("https://2130706433/hook") is None  # a name to urlsplit; resolved (127.0.0.1) at post time


@pytest.mark.parametrize("url", ["http://localhost:8000/hook", "http://LocalHost/", "http://api.localhost/x",
                                 "http://127.0.0.1:9/", "http://127.10.0.1/", "http://[::1]:8080/",
                                 "https://localhost/"])
def test_this_machine_only_where_loopback_is_allowed(monkeypatch, url):
    monkeypatch.setattr(settings, "webhook_allow_loopback", True)
    assert url_problem(url) is None
    monkeypatch.setattr(settings, "webhook_allow_loopback", False)
    assert url_problem(url) == "must not point at this machine"


def test_an_ipv6_address_that_only_leads_to_this_machine_is_no_loopback(monkeypatch):
    monkeypatch.setattr(settings, "webhook_allow_loopback", True)
    assert url_problem("http://[::ffff:127.0.0.1]/") == "must be an https:// URL"
    assert url_problem("https://[::ffff:127.0.0.1]/") == \
        "must not point at a private or reserved address (it carries 127.0.0.1)"


# --- what the host resolves to, and what the socket reached ---------------------------------------

def resolves_to(monkeypatch, *addresses):
    asked = []

    def getaddrinfo(host, port, *args, **kwargs):
        asked.append((host, port))
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                for a in addresses]
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def test_every_address_of_the_host_must_pass_not_just_the_first(no_loopback, monkeypatch):
    asked = resolves_to(monkeypatch, "93.184.216.34", "10.0.0.7")
    assert urls._resolution_problem("hooks.example.com", 443) == \
        "refused: the host resolves to a private or reserved address"
    assert asked == [("hooks.example.com", 443)]
    resolves_to(monkeypatch, "93.184.216.34", "2606:2800:220:1::1")
    assert urls._resolution_problem("hooks.example.com", 443) is None
    resolves_to(monkeypatch, "127.0.0.1")
    assert urls._resolution_problem("2130706433", 443) == "refused: the host resolves to a loopback address"


@pytest.mark.parametrize("error", [socket.gaierror(-2, "Name or service not known"), UnicodeError("label empty")])
def test_a_host_that_does_not_resolve_is_refused(monkeypatch, error):
    def getaddrinfo(*args, **kwargs):
        raise error
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    assert urls._resolution_problem("nowhere.example", 443) == "cannot resolve the host"


class FakeSocket:
    def __init__(self, peer):
        self.peer, self.closed = peer, False

    def getpeername(self):
        return (self.peer, 443)

    def close(self):
        self.closed = True


def test_the_peer_the_socket_reached_is_judged_before_a_byte_is_sent(no_loopback, monkeypatch):
    """DNS may answer differently at connect time (rebinding): the connected peer is checked too."""
    rebound = FakeSocket("10.0.0.5")
    monkeypatch.setattr(socket, "create_connection", lambda address, timeout: rebound)
    with pytest.raises(OSError, match="connected to a private or reserved address"):
        urls._vetted_socket("hooks.example.com", 443, 5)
    assert rebound.closed
    public = FakeSocket("93.184.216.34")
    monkeypatch.setattr(socket, "create_connection", lambda address, timeout: public)
    assert urls._vetted_socket("hooks.example.com", 443, 5) is public and not public.closed


def test_post_refuses_a_bad_url_or_a_private_resolution_without_connecting(no_loopback, monkeypatch):
    # The guard refuses connections: had post connected, these would raise instead of answering.
    assert urls.post("https://10.0.0.1/hook", b"{}", {}) == (
        None, "refused: url must not point at a private or reserved address")
    assert urls.post("http://hooks.example.com/", b"{}", {}) == (None, "refused: url must be an https:// URL")
    resolves_to(monkeypatch, "192.168.1.20")
    assert urls.post("https://hooks.example.com/", b"{}", {}) == (
        None, "refused: the host resolves to a private or reserved address")


def test_post_reports_a_rebound_peer_as_refused(no_loopback, monkeypatch):
    resolves_to(monkeypatch, "93.184.216.34")
    rebound = FakeSocket("169.254.169.254")
    monkeypatch.setattr(socket, "create_connection", lambda address, timeout: rebound)
    assert urls.post("https://hooks.example.com/", b"{}", {}) == (
        None, "refused: connected to a private or reserved address")
    assert rebound.closed
