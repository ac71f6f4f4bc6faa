"""Provenance: Content Credentials the tests sign themselves, EXIF/XMP/PNG generator metadata, and broken files.

Everything is made on the fly (a throwaway ES256 certificate chain included) and nothing leaves the machine: the
remote-manifest test serves on 127.0.0.1 and checks that reading never asks it for anything.
"""

from __future__ import annotations

import datetime
import http.server
import json
import threading
from pathlib import Path

import c2pa
import cv2
import numpy as np
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from model.provenance import NOTHING_FOUND, Provenance, read_provenance, read_xmp_fields, source_type_name

AI_SOURCE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
JSON_KEYS = {"c2pa", "remote_manifest_url", "software", "camera", "creator_tool", "digital_source_type",
             "generator_key", "generator_text", "claims_generated", "error", "summary"}
C2PA_KEYS = {"claim_generator", "title", "signer", "issuer", "signing_time", "actions", "digital_source_type",
             "validation_state", "trusted", "validation_failures", "manifest_count"}
# Signing with verification after signing on (the SDK's check of what it wrote), no thumbnail, nothing fetched.
SIGNING_SETTINGS = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
                    "core": {"allowed_network_hosts": []}, "builder": {"thumbnail": {"enabled": False}}}


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Deepfake Detector Tests")])


def _usage(*, signer: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=not signer,
                         crl_sign=not signer, encipher_only=False, decipher_only=False)


@pytest.fixture(scope="session")
def signing_chain() -> dict[str, bytes]:
    """A test root CA and an ES256 end-entity certificate as C2PA wants it: not self-signed, digitalSignature key
    usage, emailProtection extended key usage, CA:false. Returns the PEM chain, its key and the root."""
    start = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
    end = start + datetime.timedelta(days=365 * 20)
    root_key, signer_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    root = (x509.CertificateBuilder().subject_name(_name("Test Root CA")).issuer_name(_name("Test Root CA"))
            .public_key(root_key.public_key()).serial_number(1).not_valid_before(start).not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(_usage(signer=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
            .sign(root_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder().subject_name(_name("Test Signer")).issuer_name(root.subject)
            .public_key(signer_key.public_key()).serial_number(2).not_valid_before(start).not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_usage(signer=True), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(signer_key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
            .sign(root_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    return {"chain": leaf.public_bytes(pem) + root.public_bytes(pem), "root": root.public_bytes(pem),
            "key": signer_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())}


def _manifest(title: str) -> dict:
    return {"claim_generator_info": [{"name": "deepfake-detector-tests", "version": "1.0"}], "title": title,
            "assertions": [{"label": "c2pa.actions",
                            "data": {"actions": [{"action": "c2pa.created", "digitalSourceType": AI_SOURCE}]}}]}


def sign_with_c2pa(chain: dict[str, bytes], source: Path, dest: Path, *, remote_url: str | None = None) -> Path:
    info = c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, chain["chain"], chain["key"], None)
    settings = SIGNING_SETTINGS if remote_url is None else {**SIGNING_SETTINGS, "verify": {"verify_after_sign": False}}
    with c2pa.Context.from_dict(settings) as context, c2pa.Signer.from_info(info) as signer, \
            c2pa.Builder(_manifest(dest.name), context) as builder:
        if remote_url is not None:
            builder.set_no_embed()
            builder.set_remote_url(remote_url)
        builder.sign_file(source, dest, signer)
    return dest


def _jpeg(path: Path, **save_options) -> Path:
    Image.new("RGB", (64, 48), (120, 30, 200)).save(path, "JPEG", **save_options)
    return path


@pytest.fixture
def signed_jpeg(tmp_path, signing_chain) -> Path:
    return sign_with_c2pa(signing_chain, _jpeg(tmp_path / "plain.jpg"), tmp_path / "synthetic.jpg")


def _assert_json(result: Provenance) -> dict:
    data = json.loads(json.dumps(result.to_json()))
    assert set(data) == JSON_KEYS
    assert data["summary"] == result.summary()
    return data


def test_plain_jpeg_says_nothing_and_that_this_proves_nothing(tmp_path):
    result = read_provenance(_jpeg(tmp_path / "photo.jpg"))
    assert result.c2pa is None and result.error is None and not result.found and not result.claims_generated
    assert result.summary() == NOTHING_FOUND
    assert "missing credentials prove nothing" in result.summary()
    data = _assert_json(result)
    assert all(data[key] is None for key in JSON_KEYS - {"claims_generated", "summary"})


def test_exif_software_and_xmp_source_type_are_read(tmp_path):
    exif = Image.Exif()
    exif[305], exif[271], exif[272] = "Adobe Photoshop 25.0", "Canon", "Canon EOS R5"
    xmp = ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
           '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
           '<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/"'
           ' xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" xmp:CreatorTool="Image Maker 3">'
           f'<Iptc4xmpExt:DigitalSourceType>{AI_SOURCE}</Iptc4xmpExt:DigitalSourceType>'
           '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>')
    result = read_provenance(_jpeg(tmp_path / "edited.jpg", exif=exif, xmp=xmp.encode()))
    assert result.software == "Adobe Photoshop 25.0"
    assert result.camera == "Canon Canon EOS R5"
    assert result.creator_tool == "Image Maker 3"
    assert result.digital_source_type == AI_SOURCE and result.claims_generated
    assert result.c2pa is None and result.error is None
    summary = result.summary()
    assert "names the software 'Adobe Photoshop 25.0'" in summary
    assert "created by an AI model (trainedAlgorithmicMedia)" in summary
    assert "stripped or forged" in summary and "not inside it" in summary
    assert "prove nothing" not in summary
    _assert_json(result)


def test_png_parameters_chunk_is_generator_text(tmp_path):
    parameters = "portrait of a woman, studio light\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1234"
    info = PngInfo()
    info.add_text("parameters", parameters)
    info.add_text("Software", "Stable Diffusion web UI")
    path = tmp_path / "generated.png"
    Image.new("RGB", (32, 32), (10, 200, 10)).save(path, pnginfo=info)
    result = read_provenance(path)
    assert result.generator_key == "parameters"
    assert result.generator_text.startswith("portrait of a woman") and "Seed: 1234" in result.generator_text
    assert result.software == "Stable Diffusion web UI"
    assert result.claims_generated and result.error is None
    assert "'parameters' text block" in result.summary()
    _assert_json(result)


def test_jpeg_user_comment_with_generation_parameters(tmp_path):
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9286] = b"UNICODE\x00" + "a cat\nSteps: 30, Sampler: DPM++ 2M, Seed: 7".encode("utf-16-be")
    result = read_provenance(_jpeg(tmp_path / "a1111.jpg", exif=exif))
    assert result.generator_key == "UserComment" and "Sampler: DPM++ 2M" in result.generator_text


def test_c2pa_signed_image_shows_its_credentials_and_untrusted_issuer(signed_jpeg):
    result = read_provenance(signed_jpeg)
    assert result.error is None
    credentials = result.c2pa
    assert set(credentials) == C2PA_KEYS
    assert credentials["claim_generator"] == "deepfake-detector-tests 1.0"
    assert credentials["title"] == "synthetic.jpg"
    assert credentials["signer"] == "Test Signer" and credentials["issuer"] == "Deepfake Detector Tests"
    assert [action["action"] for action in credentials["actions"]] == ["c2pa.created"]
    assert credentials["digital_source_type"] == AI_SOURCE
    assert source_type_name(credentials["digital_source_type"]) == "trainedAlgorithmicMedia"
    assert credentials["validation_state"] == "Valid" and credentials["trusted"] is False
    assert {"code": "signingCredential.untrusted",
            "explanation": "signature not from a trusted issuer"} in credentials["validation_failures"]
    assert result.claims_generated
    summary = result.summary()
    assert summary.startswith("Content Credentials signed by Test Signer")
    assert "not a trusted issuer" in summary
    assert "created by an AI model (trainedAlgorithmicMedia)" in summary
    assert "deepfake-detector-tests 1.0" in summary
    assert "fail validation" not in summary and "stripped or forged" in summary
    _assert_json(result)


def test_c2pa_signer_is_trusted_only_when_its_root_is_given(signed_jpeg, signing_chain):
    result = read_provenance(signed_jpeg, trust_anchors=signing_chain["root"].decode())
    assert result.c2pa["validation_state"] == "Trusted" and result.c2pa["trusted"] is True
    assert result.c2pa["validation_failures"] == []
    assert "(Deepfake Detector Tests, a trusted issuer)" in result.summary()


def test_c2pa_image_changed_after_signing_fails_validation(signed_jpeg, tmp_path):
    data = bytearray(signed_jpeg.read_bytes())
    data[-200] ^= 0xFF  # a byte of the compressed pixels, outside the manifest
    tampered = tmp_path / "tampered.jpg"
    tampered.write_bytes(bytes(data))
    result = read_provenance(tampered)
    assert result.c2pa["validation_state"] == "Invalid"
    assert "assertion.dataHash.mismatch" in [f["code"] for f in result.c2pa["validation_failures"]]
    assert "They fail validation: the file was changed after it was signed." in result.summary()


def test_corrupt_manifest_is_an_error_string(signed_jpeg, tmp_path):
    data = bytearray(signed_jpeg.read_bytes())
    claim = data.find(b"c2pa.claim")
    assert claim > 0
    data[claim + 40:claim + 140] = b"\xff" * 100  # inside the claim's CBOR
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(bytes(data))
    result = read_provenance(corrupt)
    assert result.c2pa is None
    assert result.error.startswith("Content Credentials could not be read: ")
    assert "\n" not in result.error and len(result.error) < 250
    _assert_json(result)


def test_signed_mp4_is_read(tmp_path, signing_chain):
    source = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(source), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
    for value in range(0, 250, 50):
        writer.write(np.full((48, 64, 3), value, np.uint8))
    writer.release()
    assert read_provenance(source).summary() == NOTHING_FOUND
    result = read_provenance(sign_with_c2pa(signing_chain, source, tmp_path / "signed.mp4"))
    assert result.error is None
    assert result.c2pa["digital_source_type"] == AI_SOURCE and result.c2pa["validation_state"] == "Valid"


def test_remote_manifest_is_never_fetched(tmp_path, signing_chain):
    requests: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server API
            requests.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/manifest.c2pa"
        asset = sign_with_c2pa(signing_chain, _jpeg(tmp_path / "plain.jpg"), tmp_path / "remote.jpg", remote_url=url)
        result = read_provenance(asset)
        assert requests == []
        assert result.remote_manifest_url == url and result.c2pa is None and result.error is None
        assert "not fetched" in result.summary()
        # Control: the SDK's default settings do fetch it, so the empty log above is the offline settings' doing.
        with pytest.raises(c2pa.C2paError):
            c2pa.Reader(str(asset), context=c2pa.Context())
        assert requests == ["/manifest.c2pa"]
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("content", [b"definitely not a jpeg " * 20, b"\xff\xd8\xff\xe0 truncated"])
def test_garbage_with_an_image_name_is_an_error_string(tmp_path, content):
    path = tmp_path / "photo.jpg"
    path.write_bytes(content)
    result = read_provenance(path)
    assert result.c2pa is None and result.error and "\n" not in result.error
    assert str(tmp_path) not in result.error
    assert result.summary().endswith(NOTHING_FOUND)
    _assert_json(result)


def test_missing_and_empty_files_are_error_strings(tmp_path):
    assert read_provenance(tmp_path / "nowhere.jpg").error == "file not found"
    (tmp_path / "empty.png").write_bytes(b"")
    assert read_provenance(tmp_path / "empty.png").error == "the file is empty"
    assert read_provenance(tmp_path).error == "file not found"


def test_xmp_attribute_and_regex_forms():
    attribute = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
                 '<rdf:Description xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"'
                 f' Iptc4xmpExt:DigitalSourceType="{AI_SOURCE}"/></rdf:RDF></x:xmpmeta>\x00\x00')
    assert read_xmp_fields(attribute.encode()) == {"DigitalSourceType": AI_SOURCE}
    # A packet declaring entities is never parsed as XML (nothing expanded); the regex still finds the fields.
    hostile = ('<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]><x:xmpmeta xmlns:x="adobe:ns:meta/">'
               '<xmp:CreatorTool>&a;Tool</xmp:CreatorTool>'
               '<Iptc4xmpExt:DigitalSourceType>http://cv.iptc.org/newscodes/digitalsourcetype/compositeSynthetic'
               '</Iptc4xmpExt:DigitalSourceType></x:xmpmeta>')
    fields = read_xmp_fields(hostile)
    assert fields["CreatorTool"] == "&a;Tool"
    assert source_type_name(fields["DigitalSourceType"]) == "compositeSynthetic"
    assert read_xmp_fields(b"<not xml") == {}


def test_summary_for_a_camera_capture_is_not_called_generated():
    result = Provenance(digital_source_type="http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture")
    assert not result.claims_generated
    assert "captured by a digital camera (digitalCapture)" in result.summary()


CRAFTED_XMP = {  # packets ElementTree cannot parse, shaped to make a backtracking search quadratic
    "word run": "<x " + "a" * 60_000,
    "prefix run": "<" + "x." * 30_000 + ":DigitalSourceType",
    "open elements": "<a:DigitalSourceType b='" * 2_500,
    "attribute names": "CreatorTool=" * 5_000,
}


@pytest.mark.parametrize("name", sorted(CRAFTED_XMP))
def test_crafted_xmp_packets_are_read_in_bounded_time(tmp_path, name):
    """Each crafted JPEG (its XMP a 60 KB packet) and a PNG with 1 MB of it answer in under a second. The reading
    runs in a child process with a timeout, so a regression fails the test instead of hanging it."""
    import subprocess
    import sys

    packet = CRAFTED_XMP[name].encode()
    files = [_jpeg(tmp_path / "crafted.jpg", xmp=packet)]
    png = tmp_path / "crafted.png"
    info = PngInfo()
    info.add_itxt("XML:com.adobe.xmp", (CRAFTED_XMP[name] * 17)[:1_000_000])
    Image.new("RGB", (64, 48)).save(png, pnginfo=info)
    files.append(png)
    script = ("import sys, time\nfrom model.provenance import read_provenance\n"
              "for path in sys.argv[1:]:\n    start = time.perf_counter(); read_provenance(path)\n"
              "    print(time.perf_counter() - start)\n")
    done = subprocess.run([sys.executable, "-c", script, *map(str, files)], capture_output=True, text=True,
                          timeout=60, cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr[-2000:]
    assert all(float(seconds) < 1.0 for seconds in done.stdout.split())


def test_a_packet_read_only_in_part_is_said_to_be(tmp_path):
    """Over 64 KB of XMP, the report says that only the first 64 KB were read; a 60 KB packet is read whole."""
    from model.provenance import read_provenance

    png = tmp_path / "long.png"
    info = PngInfo()
    info.add_itxt("XML:com.adobe.xmp", "<x " + "a" * 200_000)
    Image.new("RGB", (64, 48)).save(png, pnginfo=info)
    assert read_provenance(png).error == "its XMP metadata is 195 KB long: only the first 64 KB were read"
    assert read_provenance(_jpeg(tmp_path / "short.jpg", xmp=CRAFTED_XMP["word run"].encode())).error is None


def test_metadata_that_takes_too_long_is_abandoned_with_a_sentence(tmp_path, monkeypatch):
    import time

    from model import provenance

    monkeypatch.setattr(provenance, "_read_c2pa", lambda *args: time.sleep(3))
    started = time.monotonic()
    result = provenance.read_provenance(_jpeg(tmp_path / "slow.jpg"), budget_s=0.2)
    assert time.monotonic() - started < 1.0
    assert result.error == "reading its metadata took over 0.2 s and was abandoned" and not result.found
