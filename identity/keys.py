"""`python -m identity.keys DIR`: a fresh RSA key pair for the local PDS server and its client.

Writes DIR/private.pem (CP-IS signs its client assertions with it: PDS_PRIVATE_KEY_PATH) and
DIR/public.pem (the local server checks them with it: --public-key). For the demo and tests
only; the real platform's key is registered with NHS England and never made here.
"""

import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def generate_key_pair(directory: Path, *, key_size: int = 4096) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    private = directory / "private.pem"
    public = directory / "public.pem"
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    private.chmod(0o600)
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return private, public


if __name__ == "__main__":
    generate_key_pair(Path(sys.argv[1] if len(sys.argv) > 1 else "var/pds"))
