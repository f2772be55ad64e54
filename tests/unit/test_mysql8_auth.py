"""MySQL 8's default authentication works without TLS only when PyMySQL can do RSA (no MySQL 8 here to try)."""

from pymysql import _auth


def test_pymysql_can_encrypt_a_password_for_caching_sha2_password():
    assert _auth._have_cryptography, "install PyMySQL[rsa]: MySQL 8 asks for RSA on a connection without TLS"
    salt = b"0123456789abcdefghij"
    key = generate_test_key()
    assert len(_auth.sha2_rsa_encrypt(b"a password", salt, key)) == 256


def generate_test_key() -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
