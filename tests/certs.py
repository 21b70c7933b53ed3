"""Throwaway certificates for TLS tests: a CA, a server certificate it signs,
client certificates, and an unrelated "wrong" CA that a client or server must
refuse. ECDSA P-256 keeps generation fast."""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: The names the server certificate is valid for.
SERVER_DNS_NAMES = ("localhost", "finseg")
SERVER_IP = ipaddress.ip_address("127.0.0.1")


@dataclass(frozen=True)
class Certs:
    """PEM files: `ca`/`wrong_ca` are CA certificates; each leaf has a key."""

    ca: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    wrong_ca: Path
    wrong_ca_key: Path
    wrong_client_cert: Path
    wrong_client_key: Path


def generate(directory: Path) -> Certs:
    """Writes every certificate and key into `directory` and names them."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = _ca("finseg test CA")
    wrong_key, wrong_cert = _ca("unrelated test CA")
    server_key, server_cert = _leaf(
        "finseg", ca_key, ca_cert, ExtendedKeyUsageOID.SERVER_AUTH,
        [*(x509.DNSName(name) for name in SERVER_DNS_NAMES), x509.IPAddress(SERVER_IP)])
    client_key, client_cert = _leaf("client", ca_key, ca_cert, ExtendedKeyUsageOID.CLIENT_AUTH)
    wrong_client_key, wrong_client_cert = _leaf(
        "client", wrong_key, wrong_cert, ExtendedKeyUsageOID.CLIENT_AUTH)
    return Certs(
        ca=_write_cert(directory / "ca.pem", ca_cert),
        ca_key=_write_key(directory / "ca.key", ca_key),
        server_cert=_write_cert(directory / "server.pem", server_cert),
        server_key=_write_key(directory / "server.key", server_key),
        client_cert=_write_cert(directory / "client.pem", client_cert),
        client_key=_write_key(directory / "client.key", client_key),
        wrong_ca=_write_cert(directory / "wrong-ca.pem", wrong_cert),
        wrong_ca_key=_write_key(directory / "wrong-ca.key", wrong_key),
        wrong_client_cert=_write_cert(directory / "wrong-client.pem", wrong_client_cert),
        wrong_client_key=_write_key(directory / "wrong-client.key", wrong_client_key))


def _validity(builder: x509.CertificateBuilder) -> x509.CertificateBuilder:
    # A day of slack before now: a clock slightly behind must not reject it.
    now = dt.datetime.now(dt.UTC)
    return builder.not_valid_before(now - dt.timedelta(days=1)) \
        .not_valid_after(now + dt.timedelta(days=30))


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _ca(common_name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = _validity(x509.CertificateBuilder()) \
        .subject_name(_name(common_name)).issuer_name(_name(common_name)) \
        .public_key(key.public_key()).serial_number(x509.random_serial_number()) \
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True) \
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True) \
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
    return key, builder.sign(key, hashes.SHA256())


def _leaf(common_name: str, ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate,
          usage: x509.ObjectIdentifier, names: list[x509.GeneralName] | None = None
          ) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = _validity(x509.CertificateBuilder()) \
        .subject_name(_name(common_name)).issuer_name(ca_cert.subject) \
        .public_key(key.public_key()).serial_number(x509.random_serial_number()) \
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True) \
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False) \
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            ca_key.public_key()), critical=False)
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return key, builder.sign(ca_key, hashes.SHA256())


def _write_cert(path: Path, cert: x509.Certificate) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> Path:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)
    return path
