"""Optional C2PA Content Credentials through the c2pa-python package (extra ``provenance``).

A manifest with a ``c2pa.created`` action whose digitalSourceType is the IPTC term
trainedAlgorithmicMedia is signed with the user's certificate chain and private key
(C2PA specification 2.x, section 18.2 "Actions"). Nothing here needs the network: no
timestamp authority is used.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field

TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
SIGNING_ALGORITHMS = ("es256", "es384", "es512", "ps256", "ps384", "ps512", "ed25519")


class ContentCredentialsUnavailable(RuntimeError):
    """c2pa-python is not installed."""


@dataclass(frozen=True)
class C2paSigningKey:
    """A PEM certificate chain (signer first) and its PEM private key, as bytes."""

    certificate_chain: bytes
    private_key: bytes
    algorithm: str = "es256"


@dataclass
class C2paReport:
    """What ``verify`` found: whether a manifest is there and whether it validates."""

    present: bool
    valid: bool = False       # signature and content hashes check out
    trusted: bool = False     # ...and the signer chains to a configured trust anchor
    validation_state: str = ""
    issuer: str = ""
    ai_generated: bool = False
    problems: list[str] = field(default_factory=list)
    manifest: dict = field(default_factory=dict)


def _c2pa():
    try:
        import c2pa
    except ImportError:
        raise ContentCredentialsUnavailable(
            "Content Credentials need the c2pa-python package: pip install 'pixeldrift[provenance]'") from None
    return c2pa


def sign_png(png_bytes: bytes, key: C2paSigningKey, title: str, generator: str = "pixeldrift") -> bytes:
    """Return the PNG with an embedded, signed C2PA manifest stating it is AI-generated."""
    if key.algorithm not in SIGNING_ALGORITHMS:
        raise ValueError(f"signing algorithm {key.algorithm!r} is not supported; accepted: {SIGNING_ALGORITHMS}")
    c2pa = _c2pa()
    manifest = {
        "claim_generator_info": [{"name": generator}],
        "title": title,
        "assertions": [{"label": "c2pa.actions", "data": {"actions": [
            {"action": "c2pa.created", "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA}]}}],
    }
    info = c2pa.C2paSignerInfo(key.algorithm, key.certificate_chain, key.private_key, None)
    output = io.BytesIO()
    try:
        with c2pa.Signer.from_info(info) as signer, c2pa.Builder(json.dumps(manifest)) as builder:
            builder.sign(signer, "image/png", io.BytesIO(png_bytes), output)
    except c2pa.C2paError as error:
        raise ValueError(f"C2PA signing failed (check the certificate chain and key): {error}") from None
    return output.getvalue()


def _is_ai_generated(manifest: dict) -> bool:
    for assertion in manifest.get("assertions", []):
        if assertion.get("label", "").startswith("c2pa.actions"):
            actions = assertion.get("data", {}).get("actions", [])
            if any(a.get("digitalSourceType") == TRAINED_ALGORITHMIC_MEDIA for a in actions):
                return True
    return False


def verify_image(image_bytes: bytes, mime_type: str = "image/png") -> C2paReport:
    """Read and validate the C2PA manifest in an image held in memory."""
    c2pa = _c2pa()
    try:
        reader = c2pa.Reader.try_create(mime_type, io.BytesIO(image_bytes))
    except c2pa.C2paError as error:
        return C2paReport(present=True, problems=[f"manifest unreadable: {error}"])
    if reader is None:
        return C2paReport(present=False)
    with reader:
        manifest = reader.get_active_manifest() or {}
        state = reader.get_validation_state() or ""
        results = reader.get_validation_results() or {}
    failures = results.get("activeManifest", {}).get("failure", [])
    # A self-made certificate is on no trust list: that is "valid but untrusted", not broken.
    problems = [f"{f.get('code')}: {f.get('explanation', '')}" for f in failures
                if f.get("code") != "signingCredential.untrusted"]
    return C2paReport(present=True, valid=state in ("Valid", "Trusted") and not problems, trusted=state == "Trusted",
                      validation_state=state, issuer=manifest.get("signature_info", {}).get("issuer", ""),
                      ai_generated=_is_ai_generated(manifest), problems=problems, manifest=manifest)
