"""The server's TLS certificate: self-signed, made on first use, pinned by its fingerprint.

A session server on a LAN has no name a public authority could certify, so ``ved serve``
makes its own certificate (an ECDSA P-256 key, valid ten years) the first time it runs and
keeps it in ``$VED_CACHE/tls/``. The join URL carries the certificate's SHA-256
fingerprint; a client compares it with the certificate the server presents and refuses to
talk to any other (certificate pinning, as SSH's known hosts do), so nobody in between can
read the session or the join codes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ssl
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ServerCertificate:
    """Paths of the PEM certificate and key, and the certificate's fingerprint (SHA-256 of
    its DER encoding, lower-case hex, 64 characters)."""

    cert: Path
    key: Path
    fingerprint: str

    def server_context(self) -> ssl.SSLContext:
        """A TLS 1.2+ server context with this certificate."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.cert, self.key)
        return ctx


def fingerprint_of_der(der: bytes) -> str:
    """SHA-256 of a DER certificate, lower-case hex."""
    return hashlib.sha256(der).hexdigest()


def load_or_make_certificate(folder: Path) -> ServerCertificate:
    """The certificate in ``folder`` (``cert.pem``, ``key.pem``), made there first if absent
    or unreadable. The key file is readable by its owner only. Raises ``OSError`` when the
    folder cannot be written."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder = Path(folder)
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    if cert_path.is_file() and key_path.is_file():
        try:
            cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
            if cert.not_valid_after_utc > dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1):
                der = cert.public_bytes(serialization.Encoding.DER)
                return ServerCertificate(cert_path, key_path, fingerprint_of_der(der))
        except ValueError:
            pass  # unreadable: make a new one below
    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ved session server")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=3650)).sign(key, hashes.SHA256()))
    key_path.touch(mode=0o600, exist_ok=True)
    key_path.chmod(0o600)
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return ServerCertificate(cert_path, key_path, fingerprint_of_der(cert.public_bytes(serialization.Encoding.DER)))


def pinned_client_context() -> ssl.SSLContext:
    """A client context that accepts the server's self-signed certificate for the handshake;
    the caller must then check :func:`fingerprint_of_der` of the peer's certificate against
    the pinned fingerprint (:func:`check_pin`) before sending anything."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def check_pin(peer_der: bytes | None, fingerprint: str) -> None:
    """Raise ``ConnectionRefusedError`` unless the peer's certificate has ``fingerprint``."""
    got = fingerprint_of_der(peer_der) if peer_der else ""
    if not hmac.compare_digest(got, fingerprint.lower()):
        raise ConnectionRefusedError(f"the server's certificate ({got[:16] or 'none'}…) is not the one in the join URL "
                                     f"({fingerprint[:16]}…): not connecting")
