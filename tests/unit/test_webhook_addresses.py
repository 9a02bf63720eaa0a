"""Which IP addresses a webhook may be posted to: an IPv6 address that carries an IPv4 address (NAT64,
6to4, Teredo, IPv4-mapped, -compatible, -translated) is judged by the IPv4 address it reaches."""
import ipaddress

import pytest

from chalicelib.config import settings
from chalicelib.net import urls

METADATA, PRIVATE, LOOPBACK, PUBLIC = "169.254.169.254", "10.1.2.3", "127.0.0.1", "8.8.8.8"


def _teredo(server: str, client: str) -> str:
    """A Teredo address: 2001:0::/32, the server's IPv4 in bits 32-63, the client's inverted in the last 32."""
    bits = (0x20010000 << 96) | (int(ipaddress.IPv4Address(server)) << 64)
    return str(ipaddress.IPv6Address(bits | (~int(ipaddress.IPv4Address(client)) & 0xFFFFFFFF)))


def _last_32_bits(prefix: str, v4: str) -> str:
    return str(ipaddress.IPv6Address(int(ipaddress.IPv6Address(prefix)) | int(ipaddress.IPv4Address(v4))))


EMBEDDINGS = {
    "NAT64 64:ff9b::/96": lambda v4: _last_32_bits("64:ff9b::", v4),
    "6to4 2002::/16": lambda v4: str(ipaddress.IPv6Address((0x2002 << 112) | (int(ipaddress.IPv4Address(v4)) << 80))),
    "Teredo server": lambda v4: _teredo(v4, PUBLIC),
    "Teredo client": lambda v4: _teredo(PUBLIC, v4),
    "IPv4-mapped ::ffff:0:0/96": lambda v4: f"::ffff:{v4}",
    "IPv4-compatible ::/96": lambda v4: f"::{v4}",
    "IPv4-translated ::ffff:0:0:0/96": lambda v4: _last_32_bits("::ffff:0:0:0", v4),
}


@pytest.fixture
def no_loopback(monkeypatch):
    monkeypatch.setattr(settings, "webhook_allow_loopback", False)


def test_the_embeddings_decode_to_the_address_they_carry():
    """The forms the issue names, spelled as an attacker would; the helpers above agree with them."""
    assert EMBEDDINGS["NAT64 64:ff9b::/96"](METADATA) == "64:ff9b::a9fe:a9fe"
    assert EMBEDDINGS["6to4 2002::/16"](METADATA) == "2002:a9fe:a9fe::"
    for form, embed in EMBEDDINGS.items():
        carried = urls.embedded_ipv4(ipaddress.IPv6Address(embed(METADATA)))
        assert ipaddress.IPv4Address(METADATA) in carried, form
    assert urls.embedded_ipv4(ipaddress.IPv6Address("2606:4700::1111")) == []


@pytest.mark.parametrize("form", EMBEDDINGS)
@pytest.mark.parametrize("v4", [METADATA, PRIVATE, LOOPBACK, "100.64.0.1", "0.0.0.0"])
def test_an_embedded_private_address_is_refused(no_loopback, form, v4):
    address = EMBEDDINGS[form](v4)
    assert urls.url_problem(f"https://[{address}]/hook") is not None
    problem = urls.url_problem(f"https://[{address}]/hook")
    assert problem == f"must not point at a private or reserved address (it carries {v4})"
    assert urls.address_problem(address) == f"a private or reserved address (it carries {v4})"


@pytest.mark.parametrize("form", EMBEDDINGS)
def test_an_embedded_loopback_address_is_refused_even_where_loopback_is_allowed(form):
    """Loopback is allowed as 127.0.0.0/8 and ::1 themselves; an address that only leads there (through
    a translator or relay) is no test receiver."""
    assert settings.webhook_allow_loopback
    assert urls.address_problem(EMBEDDINGS[form](LOOPBACK)) is not None


@pytest.mark.parametrize("form", EMBEDDINGS)
def test_an_embedded_public_address_passes_in_every_form(no_loopback, form):
    """A DNS64 resolver (an IPv6-only subnet) answers 64:ff9b::<IPv4> for every IPv4-only receiver, so
    refusing translated addresses would refuse every such receiver; what the address reaches is the
    public IPv4 address it carries, so it passes, whatever Python's own tables say of the prefix
    (3.11 calls all of 2001::/23, Teredo included, not global)."""
    address = EMBEDDINGS[form](PUBLIC)
    assert urls.url_problem(f"https://[{address}]/hook") is None
    assert urls.address_problem(address) is None


def test_the_local_use_nat64_prefix_is_refused_whatever_it_carries(no_loopback):
    """64:ff9b:1::/48 is a network's own translator: where the IPv4 address sits depends on its setup."""
    for v4 in (PUBLIC, METADATA):
        assert urls.address_problem(_last_32_bits("64:ff9b:1::", v4)) == "a local NAT64 address"


@pytest.mark.parametrize("address, problem", [
    (METADATA, "a private or reserved address"), (PRIVATE, "a private or reserved address"),
    ("fd00::1", "a private or reserved address"), ("fe80::1", "a private or reserved address"),
    ("224.0.0.1", "a private or reserved address"), ("ff0e::1", "a private or reserved address"),
    ("::", "a private or reserved address (it carries 0.0.0.0)"),
    (LOOPBACK, "a loopback address"), ("127.8.9.10", "a loopback address"), ("::1", "a loopback address"),
    (PUBLIC, None), ("2606:4700::1111", None),
])
def test_plain_addresses(no_loopback, address, problem):
    assert urls.address_problem(address) == problem


def test_loopback_itself_only_where_allowed(monkeypatch):
    for allowed in (True, False):
        monkeypatch.setattr(settings, "webhook_allow_loopback", allowed)
        assert (urls.address_problem(LOOPBACK) is None) is allowed
        assert (urls.address_problem("::1") is None) is allowed
