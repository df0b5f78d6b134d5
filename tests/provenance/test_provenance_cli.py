"""`pixeldrift info / detect / verify` on good and bad files: clear answers, right exit codes."""

import datetime
import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from pixeldrift.cli.provenance import detect, info, verify
from pixeldrift.provenance import GenerationRecord, save_labelled_png
from pixeldrift.provenance.safe_image import ImageReadError, load_rgb


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    image = np.asarray(Image.radial_gradient("L").resize((512, 512)).convert("RGB"))
    save_labelled_png(image, folder / "marked.png", GenerationRecord(prompt="a, b\nc", width=512, height=512))
    Image.fromarray(image).save(folder / "plain.png")
    (folder / "text.png").write_bytes(b"hello, not an image")
    (folder / "cut.png").write_bytes((folder / "marked.png").read_bytes()[:2000])
    Image.new("L", (9000, 9000)).save(folder / "huge.png")
    return folder


def run(command, *args):
    return CliRunner().invoke(command, [str(a) for a in args])


def test_info_prints_parameters_and_statement(files):
    result = run(info, files / "marked.png")
    assert result.exit_code == 0 and "AI-generated: yes" in result.output and "a, b\nc" in result.output
    as_json = json.loads(run(info, files / "marked.png", "--json").output)
    assert as_json["ai_generated"] and as_json["label"]["record"]["prompt"] == "a, b\nc"


@pytest.mark.parametrize("name, code", [("plain.png", 1), ("text.png", 1), ("cut.png", 1), ("missing.png", 2)])
def test_info_bad_input_is_clear(files, name, code):
    result = run(info, files / name)
    assert result.exit_code == code and result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output


def test_detect_reports_found_and_not_found(files):
    result = run(detect, files / "marked.png", files / "plain.png")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert "watermark found" in lines[0] and "confidence" in lines[0] and "not found" in lines[1]


@pytest.mark.parametrize("name, reason", [("text.png", "not an image"), ("cut.png", "truncated"),
                                          ("huge.png", "decompression-bomb"), ("missing.png", "no such file")])
def test_detect_bad_input_is_clear(files, name, reason):
    result = run(detect, files / name)
    assert result.exit_code == 2 and reason in result.output and "Traceback" not in result.output


def test_load_rgb_guard_names_the_size(files):
    with pytest.raises(ImageReadError, match="9000x9000"):
        load_rgb(files / "huge.png")


def test_verify_without_manifest_and_non_image(files):
    pytest.importorskip("c2pa")
    assert run(verify, files / "marked.png").exit_code == 1
    result = run(verify, files / "text.png")
    assert result.exit_code == 1 and "not a PNG or JPEG" in result.output


def throwaway_key():
    """A local CA and an ES256 signing certificate, valid for a day: no network, no real identity."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    from pixeldrift.provenance.content_credentials import C2paSigningKey

    now = datetime.datetime.now(datetime.timezone.utc)
    name = lambda cn: x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "pixeldrift tests")])
    usage = dict(content_commitment=False, key_encipherment=False, data_encipherment=False, key_agreement=False,
                 encipher_only=False, decipher_only=False)

    def certificate(subject, issuer, public, signing_key, is_ca):
        # C2PA rejects signing certificates without key identifiers (spec 2.x, 14.5.1).
        builder = (x509.CertificateBuilder().subject_name(name(subject)).issuer_name(name(issuer)).public_key(public)
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
                   .add_extension(x509.KeyUsage(digital_signature=not is_ca, key_cert_sign=is_ca, crl_sign=is_ca, **usage), critical=True))
        if not is_ca:
            builder = (builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
                       .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signing_key.public_key()), critical=False)
                       .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False))
        return builder.sign(signing_key, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = certificate("test ca", "test ca", ca_key.public_key(), ca_key, True)
    leaf = certificate("test signer", "test ca", key.public_key(), ca_key, False)
    pem = serialization.Encoding.PEM
    return C2paSigningKey(leaf.public_bytes(pem) + ca.public_bytes(pem),
                          key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


def test_c2pa_sign_then_verify_and_detect_tampering(tmp_path):
    pytest.importorskip("c2pa")
    pytest.importorskip("cryptography")
    image = np.asarray(Image.radial_gradient("L").resize((256, 256)).convert("RGB"))
    path = save_labelled_png(image, tmp_path / "signed.png", GenerationRecord(prompt="x"), c2pa_key=throwaway_key())
    result = run(verify, path)
    assert result.exit_code == 0 and "manifest valid" in result.output and "AI-generated: yes" in result.output
    assert "AI-generated: yes" in run(info, path).output   # our chunks survive signing
    # Change pixels inside the image data: the hard binding must fail.
    data = bytearray(path.read_bytes())
    at = data.index(b"IDAT") + 40
    data[at] ^= 0xFF
    (tmp_path / "tampered.png").write_bytes(bytes(data))
    tampered = run(verify, tmp_path / "tampered.png")
    assert tampered.exit_code == 1 and "NOT valid" in tampered.output
