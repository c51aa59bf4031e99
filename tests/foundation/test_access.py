"""Bearer tokens, the admin token, and TLS."""

from __future__ import annotations

import datetime as dt

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from reels.v1 import reel_admin_service_pb2 as admin_pb2
from reels.v1 import reel_admin_service_pb2_grpc, reel_service_pb2_grpc
from reels.v1 import reel_service_pb2 as pb2
from tests.conftest import error_reason, start_stack, stop_stack


@pytest.fixture
def secured(tmp_path, sample_library):
    s = start_stack(
        tmp_path / "d", libraries=f"sample={sample_library}", REEL_AUTH_TOKEN="user-tok", REEL_ADMIN_TOKEN="admin-tok"
    )
    yield s
    stop_stack(s)


def bearer(token):
    return (("authorization", f"Bearer {token}"),)


def test_no_token_is_unauthenticated_but_health_is_open(secured):
    with pytest.raises(grpc.RpcError) as err:
        secured.reels.ListReels(pb2.ListReelsRequest())
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error_reason(err.value) == "TOKEN_MISSING"
    with pytest.raises(grpc.RpcError) as err:
        secured.reels.ListReels(pb2.ListReelsRequest(), metadata=bearer("wrong"))
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    health = health_pb2_grpc.HealthStub(secured.channel).Check(health_pb2.HealthCheckRequest())
    assert health.status == health_pb2.HealthCheckResponse.SERVING


def test_user_token_works_and_admin_needs_admin_token(secured):
    secured.reels.ListReels(pb2.ListReelsRequest(), metadata=bearer("user-tok"))
    with pytest.raises(grpc.RpcError) as err:
        secured.admin.ListLibraries(admin_pb2.ListLibrariesRequest(), metadata=bearer("user-tok"))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    libs = secured.admin.ListLibraries(admin_pb2.ListLibrariesRequest(), metadata=bearer("admin-tok"))
    assert [lib.key for lib in libs.libraries] == ["sample"]


def _self_signed(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def test_tls(tmp_path, sample_library):
    cert, key = _self_signed(tmp_path)
    s = start_stack(
        tmp_path / "d", libraries=f"sample={sample_library}", REEL_TLS_CERT=str(cert), REEL_TLS_KEY=str(key)
    )
    try:
        creds = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
        channel = grpc.secure_channel(
            f"127.0.0.1:{s.render_port}", creds, options=[("grpc.ssl_target_name_override", "localhost")]
        )
        libs = reel_admin_service_pb2_grpc.ReelAdminServiceStub(channel).ListLibraries(admin_pb2.ListLibrariesRequest())
        assert [lib.key for lib in libs.libraries] == ["sample"]
        with pytest.raises(grpc.RpcError):  # plaintext is refused
            reel_service_pb2_grpc.ReelServiceStub(grpc.insecure_channel(f"127.0.0.1:{s.render_port}")).ListReels(
                pb2.ListReelsRequest(), timeout=5
            )
        channel.close()
    finally:
        stop_stack(s)
