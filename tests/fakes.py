"""Test doubles that honour the real interfaces (no Mock objects asserting calls)."""
import http.server
import json
import socket
import ssl
import threading
import time

from botocore.exceptions import ClientError


class ManagementApi:
    """Stands in for the apigatewaymanagementapi client: records frames; unknown ids are 410 Gone."""

    def __init__(self):
        self.live: set[str] = set()
        self.frames: dict[str, list[dict]] = {}
        self._lock = threading.Lock()

    def connect(self, connection_id: str) -> None:
        with self._lock:
            self.live.add(connection_id)
            self.frames.setdefault(connection_id, [])

    def drop(self, connection_id: str) -> None:
        with self._lock:
            self.live.discard(connection_id)

    def post_to_connection(self, ConnectionId: str, Data: bytes):
        with self._lock:
            if ConnectionId not in self.live:
                raise ClientError({"Error": {"Code": "GoneException", "Message": "Gone"},
                                   "ResponseMetadata": {"HTTPStatusCode": 410}}, "PostToConnection")
            self.frames[ConnectionId].append(json.loads(Data))
        return {}

    def get_connection(self, ConnectionId: str):
        with self._lock:
            if ConnectionId not in self.live:
                raise ClientError({"Error": {"Code": "GoneException", "Message": "Gone"},
                                   "ResponseMetadata": {"HTTPStatusCode": 410}}, "GetConnection")
        return {"ConnectedAt": "2026-11-22T16:04:05.123Z"}

    def delete_connection(self, ConnectionId: str):
        self.drop(ConnectionId)
        return {}

    def of(self, connection_id: str, type_: str | None = None) -> list[dict]:
        with self._lock:
            frames = list(self.frames.get(connection_id, []))
        return [f for f in frames if type_ is None or f.get("type") == type_]

    def clear(self) -> None:
        with self._lock:
            for frames in self.frames.values():
                frames.clear()


class WebhookReceiver:
    """A local HTTP endpoint on 127.0.0.1 (HTTPS with `tls`, a server context) recording every post
    as {headers (names lower-cased), body (bytes), json, at (monotonic), status}; it answers
    `statuses` in turn, then `default` (both may be changed while it runs). `openings` holds the
    first bytes of every connection it accepted, b"" for one closed before sending anything."""

    def __init__(self, statuses=(), default: int = 200, path: str = "/parley", tls: ssl.SSLContext | None = None):
        self.posts: list[dict] = []
        self.openings: list[bytes] = []
        self.statuses, self.default = list(statuses), default
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def setup(self):
                outer.openings.append(self.request.recv(16, socket.MSG_PEEK))
                if tls is not None:
                    self.request = tls.wrap_socket(self.request, server_side=True)
                super().setup()

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = outer.statuses.pop(0) if outer.statuses else outer.default
                outer.posts.append({"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body,
                                    "json": json.loads(body), "at": time.monotonic(), "status": status})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # a client that hangs up, or fails the TLS handshake, is the test's business

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}{path}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def delivered(self) -> list:
        """The parsed bodies of the posts it answered with a success (2xx), in order."""
        return [p["json"] for p in self.posts if p["status"] < 300]

    def types(self) -> list[str]:
        """The `type` of every posted event, in order."""
        return [p["json"]["type"] for p in self.posts]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def tls_contexts(hostname: str, folder) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A self-signed certificate for `hostname` (written to `folder`): the server context that
    presents it, and a verifying client context that trusts only it."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    start = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start)
            .not_valid_after(start + datetime.timedelta(days=3))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_file, key_file)
    return server, ssl.create_default_context(cafile=str(cert_file))
