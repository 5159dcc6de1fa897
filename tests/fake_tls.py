"""What the pulumi-tls and pulumi-random providers would return, computed for real.

The mocks hand these to the program so tests can check the actual certificate chain (curve, CA
flags, signatures, lifetimes) the mesh layer asks for, not just the arguments it passes.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

_CURVES = {"P224": ec.SECP224R1, "P256": ec.SECP256R1, "P384": ec.SECP384R1, "P521": ec.SECP521R1}


def provider_state(type_: str, inputs: dict[str, Any]) -> dict[str, Any] | None:
    """Outputs of a tls/random resource, or None for other types."""
    inputs = {key: _plain(value) for key, value in inputs.items()}
    if type_ == "tls:index/privateKey:PrivateKey":
        return _private_key(inputs)
    if type_ == "tls:index/selfSignedCert:SelfSignedCert":
        key = _load_key(inputs["privateKeyPem"])
        return _certificate(inputs, _subject(inputs), key.public_key(), key, None)
    if type_ == "tls:index/certRequest:CertRequest":
        key = _load_key(inputs["privateKeyPem"])
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(_subject(inputs))
            .sign(key, hashes.SHA256())
        )
        return {"certRequestPem": csr.public_bytes(serialization.Encoding.PEM).decode()}
    if type_ == "tls:index/locallySignedCert:LocallySignedCert":
        csr = x509.load_pem_x509_csr(inputs["certRequestPem"].encode())
        ca_cert = x509.load_pem_x509_certificate(inputs["caCertPem"].encode())
        ca_key = _load_key(inputs["caPrivateKeyPem"])
        return _certificate(inputs, csr.subject, csr.public_key(), ca_key, ca_cert)
    if type_ == "random:index/randomPassword:RandomPassword":
        return {"result": secrets.token_urlsafe(int(inputs["length"]))[: int(inputs["length"])]}
    return None


def _plain(value: Any) -> Any:
    """Secret inputs arrive wrapped as {<signature>: <secret sig>, "value": ...}."""
    if isinstance(value, dict) and "value" in value and len(value) == 2:
        return value["value"]
    return value


def _private_key(inputs: dict[str, Any]) -> dict[str, Any]:
    algorithm = inputs.get("algorithm", "RSA")
    if algorithm == "ECDSA":
        # The provider's default curve is P224.
        key: Any = ec.generate_private_key(_CURVES[inputs.get("ecdsaCurve", "P224")]())
    else:
        key = rsa.generate_private_key(65537, int(inputs.get("rsaBits", 2048)))
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {"privateKeyPem": pem, "publicKeyPem": public.decode(), "algorithm": algorithm}


def _load_key(pem: str) -> Any:
    return serialization.load_pem_private_key(pem.encode(), password=None)


def _subject(inputs: dict[str, Any]) -> x509.Name:
    common_name = (inputs.get("subject") or {}).get("commonName", "")
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(
    inputs: dict[str, Any],
    subject: x509.Name,
    public_key: Any,
    signing_key: Any,
    issuer: x509.Certificate | None,
) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    end = now + dt.timedelta(hours=int(inputs["validityPeriodHours"]))
    uses = set(inputs.get("allowedUses") or [])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject if issuer else subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(end)
        .add_extension(
            x509.BasicConstraints(ca=bool(inputs.get("isCaCertificate")), path_length=None),
            critical=True,
        )
        .add_extension(
            x509.KeyUsage(
                digital_signature="digital_signature" in uses,
                content_commitment=False,
                key_encipherment="key_encipherment" in uses,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign="cert_signing" in uses,
                crl_sign="crl_signing" in uses,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    certificate = builder.sign(signing_key, hashes.SHA256())
    return {
        "certPem": certificate.public_bytes(serialization.Encoding.PEM).decode(),
        "validityStartTime": now.isoformat().replace("+00:00", "Z"),
        "validityEndTime": end.isoformat().replace("+00:00", "Z"),
    }
