"""Development certificates: a local CA, a broker certificate signed by it and,
for poles that authenticate with a device certificate, client certificates.

For development, tests and `smartpole up` only: a production broker gets its
certificate from the city's CA or a public one. Keys are ECDSA P-256 (fast to
make, supported by Mosquitto's OpenSSL); every private key file is 0600.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from brokerauth.passwords import write_private

CA_DAYS = 3650
LEAF_DAYS = 825  # the longest a TLS client (browsers, Apple) accepts for a server
DEFAULT_HOSTS = ("localhost", "127.0.0.1", "::1", "mosquitto")


@dataclass(frozen=True, slots=True)
class DevCertificates:
    folder: Path

    @property
    def ca_cert(self) -> Path:
        return self.folder / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.folder / "ca.key"

    @property
    def server_cert(self) -> Path:
        return self.folder / "server.crt"

    @property
    def server_key(self) -> Path:
        return self.folder / "server.key"

    def client_cert(self, name: str) -> Path:
        return self.folder / "clients" / f"{name}.crt"

    def client_key(self, name: str) -> Path:
        return self.folder / "clients" / f"{name}.key"

    def complete(self) -> bool:
        return all(p.is_file() for p in (self.ca_cert, self.ca_key, self.server_cert,
                                         self.server_key))  # fmt: skip


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _pem_cert(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "smartpole development"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _load_ca(certs: DevCertificates) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert = x509.load_pem_x509_certificate(certs.ca_cert.read_bytes())
    key = serialization.load_pem_private_key(certs.ca_key.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{certs.ca_key} is not an EC key made by smartpole certs dev")
    return cert, key


def _subject_alt_names(hosts: tuple[str, ...]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def _leaf(
    ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey],
    common_name: str,
    usage: x509.ObjectIdentifier,
    hosts: tuple[str, ...] = (),
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    ca_cert, ca_key = ca
    key = _key()
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=LEAF_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_encipherment=False,
                content_commitment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    if hosts:
        builder = builder.add_extension(_subject_alt_names(hosts), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


def make_ca(certs: DevCertificates, name: str = "smartpole development CA") -> None:
    key = _key()
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(_name(name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_encipherment=False,
                content_commitment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    certs.folder.mkdir(parents=True, exist_ok=True)
    write_private(certs.ca_key, _pem_key(key))
    certs.ca_cert.write_bytes(_pem_cert(cert))


def make_server(certs: DevCertificates, hosts: tuple[str, ...] = DEFAULT_HOSTS) -> None:
    cert, key = _leaf(_load_ca(certs), hosts[0], ExtendedKeyUsageOID.SERVER_AUTH, hosts)
    write_private(certs.server_key, _pem_key(key))
    certs.server_cert.write_bytes(_pem_cert(cert))


def make_client(certs: DevCertificates, common_name: str) -> tuple[Path, Path]:
    """A client certificate whose common name is the identity (a pole id), for a
    listener with `use_identity_as_username`."""
    cert, key = _leaf(_load_ca(certs), common_name, ExtendedKeyUsageOID.CLIENT_AUTH)
    cert_path, key_path = certs.client_cert(common_name), certs.client_key(common_name)
    write_private(key_path, _pem_key(key))
    cert_path.write_bytes(_pem_cert(cert))
    return cert_path, key_path


def ensure_dev_certificates(
    folder: Path, hosts: tuple[str, ...] = DEFAULT_HOSTS
) -> DevCertificates:
    """The CA and broker certificate in `folder`, made on first use."""
    certs = DevCertificates(folder)
    if not certs.ca_cert.is_file() or not certs.ca_key.is_file():
        make_ca(certs)
        make_server(certs, hosts)
    elif not certs.server_cert.is_file() or not certs.server_key.is_file():
        make_server(certs, hosts)
    return certs
