"""Certificates and keys for the dev cluster: one CA, serving and client certificates."""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = dt.timedelta(days=3650)
SERVICE_IP = "10.96.0.1"


@dataclass(frozen=True)
class ClientIdentity:
    file_stem: str
    common_name: str
    organization: str | None = None


CLIENTS = (
    ClientIdentity("admin", "kubernetes-admin", "system:masters"),
    ClientIdentity("controller-manager", "system:kube-controller-manager"),
    ClientIdentity("scheduler", "system:kube-scheduler"),
    # The node agent plays kubelet for every simulated node, so it cannot hold one node's
    # identity; it authenticates as an administrator of the dev cluster.
    ClientIdentity("node-agent", "labelpilot:node-agent", "system:masters"),
    ClientIdentity("apiserver-kubelet-client", "kube-apiserver-kubelet-client", "system:masters"),
)


def _name(common_name: str, organization: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attrs.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attrs)


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _builder(subject: x509.Name, issuer: x509.Name, public_key: object) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + VALIDITY)
    )


def _issue(
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    subject: x509.Name,
    *,
    server_names: tuple[str, ...] = (),
    client: bool = True,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH] if client else []
    builder = _builder(subject, ca_cert.subject, key.public_key()).add_extension(
        x509.BasicConstraints(ca=False, path_length=None), critical=True
    )
    if server_names:
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
        sans: list[x509.GeneralName] = []
        for name in server_names:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                sans.append(x509.DNSName(name))
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


def ensure_pki(pki_dir: Path) -> None:
    """Creates every certificate and key the cluster needs, once; existing files are kept."""
    pki_dir.mkdir(parents=True, exist_ok=True)
    if (pki_dir / "done").exists():
        return
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("labelpilot-dev-ca")
    ca_cert = (
        _builder(ca_name, ca_name, ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write_cert(pki_dir / "ca.crt", ca_cert)
    _write_key(pki_dir / "ca.key", ca_key)

    server_names = (
        "127.0.0.1",
        SERVICE_IP,
        "localhost",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
    )
    cert, key = _issue(
        ca_cert, ca_key, _name("kube-apiserver"), server_names=server_names, client=False
    )
    _write_cert(pki_dir / "apiserver.crt", cert)
    _write_key(pki_dir / "apiserver.key", key)
    cert, key = _issue(ca_cert, ca_key, _name("etcd"), server_names=("127.0.0.1", "localhost"))
    _write_cert(pki_dir / "etcd.crt", cert)
    _write_key(pki_dir / "etcd.key", key)
    for client in CLIENTS:
        cert, key = _issue(ca_cert, ca_key, _name(client.common_name, client.organization))
        _write_cert(pki_dir / f"{client.file_stem}.crt", cert)
        _write_key(pki_dir / f"{client.file_stem}.key", key)

    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _write_key(pki_dir / "sa.key", sa_key)
    (pki_dir / "sa.pub").write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    (pki_dir / "done").write_text("ok\n")
