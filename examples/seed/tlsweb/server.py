"""A plain HTTPS service with its own self-signed certificate (shared with its clients)."""
import datetime, http.server, ssl
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

key = ec.generate_private_key(ec.SECP256R1())
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tlsweb")])
now = datetime.datetime.now(datetime.timezone.utc)
cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("tlsweb")]), critical=False)
        .sign(key, hashes.SHA256()))
with open("/tls/key.pem", "wb") as handle:
    handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))
with open("/tls/cert.pem.tmp", "wb") as handle:
    handle.write(cert.public_bytes(serialization.Encoding.PEM))
import os
os.replace("/tls/cert.pem.tmp", "/tls/cert.pem")

class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"tlsweb ok"
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)

context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain("/tls/cert.pem", "/tls/key.pem")
server = http.server.HTTPServer(("", 443), Hello)
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
