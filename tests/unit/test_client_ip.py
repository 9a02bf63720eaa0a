"""Which address a per-IP limit counts (chalicelib/http.client_ip): never one the client may simply name."""
from chalicelib.edges.http import client_ip


def context(ip):
    return {"identity": {"sourceIp": ip}}


def test_straight_to_api_gateway_the_peer_counts_whatever_x_forwarded_for_says():
    assert client_ip({"X-Forwarded-For": "1.2.3.4"}, context("203.0.113.9")) == "203.0.113.9"


def test_behind_cloudfront_the_viewer_before_the_edge_counts():
    headers = {"X-Amz-Cf-Id": "abc", "X-Forwarded-For": "6.6.6.6, 198.51.100.7, 130.176.1.1"}
    assert client_ip(headers, context("130.176.1.1")) == "198.51.100.7"  # 6.6.6.6 is the client's own claim


def test_behind_cloudfront_when_api_gateway_did_not_append_the_edge():
    headers = {"x-amz-cf-id": "abc", "x-forwarded-for": "6.6.6.6, 198.51.100.7"}
    assert client_ip(headers, context("130.176.1.1")) == "198.51.100.7"


def test_cloudfront_viewer_address_when_the_distribution_forwards_it():
    assert client_ip({"CloudFront-Viewer-Address": "[2001:db8::1]:443"}, context("130.176.1.1")) == "2001:db8::1"
    assert client_ip({"CloudFront-Viewer-Address": "198.51.100.7:51234"}, context("x")) == "198.51.100.7"


def test_nothing_known_is_no_address():
    assert client_ip(None, None) is None
