"""KMS (TrentService) behaviour through boto3 and the aws CLI."""

from __future__ import annotations

import base64
import os
import re
import uuid

from conftest import ACCOUNT_ID, REGION, collect, raises_aws

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def key_arn(key_id: str) -> str:
    return f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/{key_id}"


def alias_arn(alias: str) -> str:
    return f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:{alias}"


def new_key(kms, description="e2e") -> str:
    return kms.create_key(Description=description)["KeyMetadata"]["KeyId"]


def all_aliases(kms, **kw):
    return collect(kms.list_aliases, "Aliases", token_in="Marker", token_out="NextMarker", **kw)


def test_create_and_describe_key(kms):
    meta = kms.create_key(Description="my key")["KeyMetadata"]
    key_id = meta["KeyId"]
    assert UUID_RE.match(key_id), key_id
    assert meta["Arn"] == key_arn(key_id)
    assert meta["AWSAccountId"] == ACCOUNT_ID
    assert meta["Description"] == "my key"
    assert meta["Enabled"] is True
    assert meta["KeyState"] == "Enabled"
    assert meta["KeyUsage"] == "ENCRYPT_DECRYPT"
    assert meta["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert meta["KeyManager"] == "CUSTOMER"
    assert "CreationDate" in meta

    for ref in (key_id, key_arn(key_id)):
        d = kms.describe_key(KeyId=ref)["KeyMetadata"]
        assert d["KeyId"] == key_id
        assert d["Arn"] == key_arn(key_id)
        assert d["Description"] == "my key"


def test_list_keys_paging(kms):
    ids = {new_key(kms) for _ in range(3)}
    listed = collect(kms.list_keys, "Keys", token_in="Marker", token_out="NextMarker", Limit=1)
    listed_ids = [k["KeyId"] for k in listed]
    assert len(listed_ids) == len(set(listed_ids)), "a key was listed twice"
    assert ids <= set(listed_ids)
    for k in listed:
        assert k["KeyArn"] == key_arn(k["KeyId"])
    first = kms.list_keys(Limit=1)
    assert len(first["Keys"]) == 1
    assert first["Truncated"] is True
    assert first["NextMarker"]


def test_aliases(kms, fresh):
    key_id = new_key(kms)
    alias = f"alias/{fresh.token}"
    kms.create_alias(AliasName=alias, TargetKeyId=key_id)

    entries = [a for a in all_aliases(kms) if a["AliasName"] == alias]
    assert len(entries) == 1
    assert entries[0]["TargetKeyId"] == key_id
    assert entries[0]["AliasArn"] == alias_arn(alias)

    only = all_aliases(kms, KeyId=key_id)
    assert [a["AliasName"] for a in only] == [alias]

    for ref in (alias, alias_arn(alias)):
        assert kms.describe_key(KeyId=ref)["KeyMetadata"]["KeyId"] == key_id

    other = new_key(kms)
    with raises_aws("AlreadyExistsException"):
        kms.create_alias(AliasName=alias, TargetKeyId=other)
    with raises_aws("ValidationException"):
        kms.create_alias(AliasName=f"{fresh.token}-no-prefix", TargetKeyId=key_id)
    with raises_aws("NotFoundException"):
        kms.create_alias(AliasName=f"alias/{fresh.token}-dangling", TargetKeyId=str(uuid.uuid4()))


def test_encrypt_decrypt_round_trip(kms, fresh):
    key_id = new_key(kms)
    alias = f"alias/{fresh.token}"
    kms.create_alias(AliasName=alias, TargetKeyId=key_id)
    plaintext = os.urandom(200) + b"tail-marker"

    for ref in (key_id, key_arn(key_id), alias, alias_arn(alias)):
        enc = kms.encrypt(KeyId=ref, Plaintext=plaintext)
        blob = enc["CiphertextBlob"]
        assert enc["KeyId"] == key_arn(key_id)
        assert plaintext not in blob and b"tail-marker" not in blob
        dec = kms.decrypt(CiphertextBlob=blob)
        assert dec["Plaintext"] == plaintext
        assert dec["KeyId"] == key_arn(key_id)

    # two encryptions of the same plaintext differ (random IV)
    a = kms.encrypt(KeyId=key_id, Plaintext=b"same")["CiphertextBlob"]
    b = kms.encrypt(KeyId=key_id, Plaintext=b"same")["CiphertextBlob"]
    assert a != b


def test_encryption_context_and_tampering(kms):
    key_id = new_key(kms)
    ctx = {"purpose": "e2e", "tenant": "t1"}
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"ctx-bound", EncryptionContext=ctx)["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=ctx)["Plaintext"] == b"ctx-bound"
    with raises_aws("InvalidCiphertextException"):
        kms.decrypt(CiphertextBlob=blob)
    with raises_aws("InvalidCiphertextException"):
        kms.decrypt(CiphertextBlob=blob, EncryptionContext={"purpose": "e2e", "tenant": "t2"})

    tampered = bytearray(blob)
    tampered[-1] ^= 0x01
    with raises_aws("InvalidCiphertextException"):
        kms.decrypt(CiphertextBlob=bytes(tampered), EncryptionContext=ctx)
    with raises_aws("InvalidCiphertextException"):
        kms.decrypt(CiphertextBlob=os.urandom(64))

    other = new_key(kms)
    with raises_aws("IncorrectKeyException"):
        kms.decrypt(CiphertextBlob=blob, EncryptionContext=ctx, KeyId=other)


def test_encrypt_limits(server, kms):
    key_id = new_key(kms)
    kms.encrypt(KeyId=key_id, Plaintext=b"x" * 4096)
    raw = server.kms(validate=False)
    with raises_aws("ValidationException"):
        raw.encrypt(KeyId=key_id, Plaintext=b"x" * 4097)


def test_generate_data_key(kms):
    key_id = new_key(kms)
    out = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")
    assert len(out["Plaintext"]) == 32
    assert out["KeyId"] == key_arn(key_id)
    assert kms.decrypt(CiphertextBlob=out["CiphertextBlob"])["Plaintext"] == out["Plaintext"]

    assert len(kms.generate_data_key(KeyId=key_id, KeySpec="AES_128")["Plaintext"]) == 16
    out64 = kms.generate_data_key(KeyId=key_id, NumberOfBytes=64)
    assert len(out64["Plaintext"]) == 64
    assert kms.decrypt(CiphertextBlob=out64["CiphertextBlob"])["Plaintext"] == out64["Plaintext"]

    a = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")["Plaintext"]
    b = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")["Plaintext"]
    assert a != b
    with raises_aws("ValidationException"):
        kms.generate_data_key(KeyId=key_id)


def test_disable_enable(kms):
    key_id = new_key(kms)
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"before")["CiphertextBlob"]
    kms.disable_key(KeyId=key_id)
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["Enabled"] is False
    assert meta["KeyState"] == "Disabled"
    with raises_aws("DisabledException"):
        kms.encrypt(KeyId=key_id, Plaintext=b"x")
    with raises_aws("DisabledException"):
        kms.decrypt(CiphertextBlob=blob)
    with raises_aws("DisabledException"):
        kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")

    kms.enable_key(KeyId=key_id)
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert (meta["Enabled"], meta["KeyState"]) == (True, "Enabled")
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"before"


def test_schedule_key_deletion(kms):
    key_id = new_key(kms)
    out = kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert out["KeyState"] == "PendingDeletion"
    assert out["KeyId"] == key_arn(key_id)
    assert "DeletionDate" in out
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["KeyState"] == "PendingDeletion"
    assert meta["Enabled"] is False
    with raises_aws("KMSInvalidStateException"):
        kms.encrypt(KeyId=key_id, Plaintext=b"x")

    other = new_key(kms)
    with raises_aws("ValidationException"):
        kms.schedule_key_deletion(KeyId=other, PendingWindowInDays=3)


def test_unknown_keys(kms):
    missing = str(uuid.uuid4())
    with raises_aws("NotFoundException"):
        kms.describe_key(KeyId=missing)
    with raises_aws("NotFoundException"):
        kms.encrypt(KeyId=missing, Plaintext=b"x")
    with raises_aws("NotFoundException"):
        kms.describe_key(KeyId="alias/e2e-no-such-alias")
    with raises_aws("NotFoundException"):
        kms.disable_key(KeyId=missing)


def test_aws_cli_kms(server, tmp_path):
    created = server.aws("kms", "create-key", "--description", "cli key")
    key_id = created["KeyMetadata"]["KeyId"]
    assert created["KeyMetadata"]["KeyState"] == "Enabled"
    described = server.aws("kms", "describe-key", "--key-id", key_id)
    assert described["KeyMetadata"]["Arn"] == key_arn(key_id)

    alias = f"alias/cli-{uuid.uuid4().hex[:10]}"
    server.aws("kms", "create-alias", "--alias-name", alias, "--target-key-id", key_id)
    aliases = server.aws("kms", "list-aliases", "--key-id", key_id)["Aliases"]
    assert [a["AliasName"] for a in aliases] == [alias]

    plain = tmp_path / "plain.bin"
    plain.write_bytes(b"cli round trip \x00\xff")
    enc = server.aws("kms", "encrypt", "--key-id", alias, "--plaintext", f"fileb://{plain}")
    blob = tmp_path / "blob.bin"
    blob.write_bytes(base64.b64decode(enc["CiphertextBlob"]))
    dec = server.aws("kms", "decrypt", "--ciphertext-blob", f"fileb://{blob}")
    assert base64.b64decode(dec["Plaintext"]) == b"cli round trip \x00\xff"

    keys = server.aws("kms", "list-keys")["Keys"]
    assert key_id in {k["KeyId"] for k in keys}
