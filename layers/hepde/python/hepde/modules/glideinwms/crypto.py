"""Encrypting request parameters for a GlideinWMS factory, with the ``cryptography`` package.

The GlideinWMS protocol (``glideinFrontendInterface.Key4AdvertizeBuilder``, ``symCrypto``,
``pubCrypto``): per factory key and cycle the frontend makes a random AES-256-CBC key; each secret
parameter is AES-encrypted (PKCS#7 padding) and hex-encoded into ``GlideinEncParam<name>``; the
AES key code ``cypher:aes_256_cbc,key:<hex>,iv:<hex>`` is RSA-encrypted with the factory's public key
(from its ``glidefactoryglobal`` ad, OAEP padding) into ``ReqEncKeyCode``; ``ReqEncIdentity`` is the
frontend's identity at that factory, AES-encrypted, so only who knows the key can change it.
"""

from __future__ import annotations

import binascii
import os
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import padding as asym_padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from hepde.errors import DEError


class FactoryKeyError(DEError):
    """A factory's public key cannot be used."""


def load_factory_key(pub_key_value: str) -> RSAPublicKey:
    """The RSA key of a ``PubKeyValue`` attribute (newlines escaped as ``\\n`` in the ad)."""
    text = str(pub_key_value).replace("\\n", "\n").encode()
    try:
        key = serialization.load_pem_public_key(text)
    except (ValueError, TypeError) as exc:
        raise FactoryKeyError(f"not a PEM public key: {exc}") from exc
    if not isinstance(key, RSAPublicKey):
        raise FactoryKeyError(f"factory key is {type(key).__name__}, expected RSA")
    return key


@dataclass
class SymKey:
    """AES-256-CBC key and IV (hex), as GlideinWMS ``SymAES256Key``."""

    key: bytes = field(default_factory=lambda: os.urandom(32))
    iv: bytes = field(default_factory=lambda: os.urandom(16))

    def code(self) -> str:
        return f"cypher:aes_256_cbc,key:{self.key.hex()},iv:{self.iv.hex()}"

    def encrypt_hex(self, data: str | bytes) -> str:
        raw = data.encode() if isinstance(data, str) else data
        padder = padding.PKCS7(128).padder()
        enc = Cipher(algorithms.AES(self.key), modes.CBC(self.iv)).encryptor()
        body = padder.update(raw) + padder.finalize()
        return binascii.b2a_hex(enc.update(body) + enc.finalize()).decode()

    def decrypt_hex(self, data: str) -> bytes:
        dec = Cipher(algorithms.AES(self.key), modes.CBC(self.iv)).decryptor()
        body = dec.update(binascii.a2b_hex(data)) + dec.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        return unpadder.update(body) + unpadder.finalize()


OAEP = asym_padding.OAEP(mgf=asym_padding.MGF1(algorithm=hashes.SHA1()), algorithm=hashes.SHA1(), label=None)  # noqa: S303 - protocol


class FactoryKeyObj:
    """One factory key + this cycle's symmetric key (GlideinWMS ``Key4Advertize``)."""

    def __init__(
        self, identity: str, pub_key_id: str, pub_key: RSAPublicKey, sym: SymKey | None = None
    ) -> None:
        self.identity = identity
        self.pub_key_id = pub_key_id
        self.pub_key = pub_key
        self.sym = sym or SymKey()
        self._ad_params: dict[str, str] | None = None

    def encrypt_hex(self, data: str | bytes) -> str:
        # CBC with this cycle's fixed key and IV is deterministic: the same value gives the same text
        cache = self.__dict__.setdefault("_cache", {})
        if data not in cache:
            cache[data] = self.sym.encrypt_hex(data)
        return cache[data]

    def ad_params(self) -> dict[str, str]:
        """``ReqPubKeyID``, ``ReqEncKeyCode``, ``ReqEncIdentity`` (RSA once per key object)."""
        if self._ad_params is None:
            enc_code = self.pub_key.encrypt(self.sym.code().encode(), OAEP)
            self._ad_params = {
                "ReqPubKeyID": self.pub_key_id,
                "ReqEncKeyCode": binascii.b2a_hex(enc_code).decode(),
                "ReqEncIdentity": self.encrypt_hex(str(self.identity)),
            }
        return self._ad_params


class KeyBuilder:
    """Caches one key object per (identity, factory key id), like ``Key4AdvertizeBuilder``."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str], FactoryKeyObj] = {}

    def get(self, identity: str, pub_key_id: str, pub_key: RSAPublicKey) -> FactoryKeyObj:
        k = (identity, pub_key_id)
        if k not in self._cache:
            self._cache[k] = FactoryKeyObj(identity, pub_key_id, pub_key)
        return self._cache[k]
