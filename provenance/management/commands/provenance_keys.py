"""`manage.py provenance_keys`: an UNTRUSTED signing key and certificate chain for trials.

c2pa refuses a self-signed signing certificate: it wants an end-entity certificate (not a CA;
key usage digitalSignature, critical; extended key usage emailProtection) issued by a CA. This
writes a private trial root CA and such a certificate under it (ES256, P-256). No validator
trusts that root: manifests signed with it read "Valid" (the signature and the file's bindings
hold) but not "Trusted". For production, buy a document-signing or S/MIME certificate from a CA
on the C2PA trust list and point PROVENANCE_C2PA_KEY / PROVENANCE_C2PA_CERT at it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from urllib.parse import urlparse

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

KEY_FILE = "signer-key.pem"
CHAIN_FILE = "signer-chain.pem"
ROOT_FILE = "trial-root.pem"


class Command(BaseCommand):
    help = "Write an untrusted C2PA signing key and certificate chain for trials."

    def add_arguments(self, parser):
        parser.add_argument(
            "--out",
            type=Path,
            default=None,
            help="folder to write to (default: the paths PROVENANCE_C2PA_KEY, "
            "PROVENANCE_C2PA_CERT and PROVENANCE_C2PA_TRUST_ANCHORS name, where workers look)",
        )
        parser.add_argument("--days", type=int, default=365, help="signing certificate lifetime")
        parser.add_argument("--force", action="store_true", help="overwrite existing files")
        parser.add_argument(
            "--if-missing",
            action="store_true",
            help="do nothing when all three files are there already (make run uses this)",
        )

    def handle(self, *args, **opts):
        if opts["out"] is not None:
            out = Path(opts["out"]).resolve()
            paths = [out / KEY_FILE, out / CHAIN_FILE, out / ROOT_FILE]
        else:
            paths = [
                Path(settings.PROVENANCE_C2PA_KEY).resolve(),
                Path(settings.PROVENANCE_C2PA_CERT).resolve(),
                Path(settings.PROVENANCE_C2PA_TRUST_ANCHORS).resolve(),
            ]
        existing = [str(p) for p in paths if p.exists()]
        if opts["if_missing"] and len(existing) == len(paths) and not opts["force"]:
            self.stdout.write("C2PA signing files are there already: " + ", ".join(existing))
            return
        if existing and not opts["force"]:
            raise CommandError(f"Already there (use --force to replace): {', '.join(existing)}")
        if opts["days"] < 1:
            raise CommandError("--days must be at least 1.")
        for path in paths:
            path.parent.mkdir(parents=True, exist_ok=True)
        key_pem, chain_pem, root_pem = trial_chain(
            organisation=f"Timbre at {urlparse(settings.SITE_URL).hostname or 'localhost'}",
            days=opts["days"],
        )
        key_path, chain_path, root_path = paths
        key_path.write_bytes(key_pem)
        key_path.chmod(0o600)
        chain_path.write_bytes(chain_pem)
        root_path.write_bytes(root_pem)
        self.stdout.write(
            self.style.WARNING(
                "UNTRUSTED: these certificates come from a trial root CA that no C2PA validator "
                "trusts. Outputs signed with them read as valid but not trusted. Use them for "
                "trials only; for production use a certificate from a CA on the C2PA trust list."
            )
        )
        self.stdout.write(
            "Workers use these paths (set them in the environment of the synthesis workers, "
            "which sign, and the audio workers, which read, when they differ):"
        )
        self.stdout.write(f"PROVENANCE_C2PA_KEY={key_path}")
        self.stdout.write(f"PROVENANCE_C2PA_CERT={chain_path}")
        self.stdout.write("PROVENANCE_C2PA_ALG=es256")
        self.stdout.write(f"PROVENANCE_C2PA_TRUST_ANCHORS={root_path}  # this server trusts itself")


def trial_chain(*, organisation: str, days: int) -> tuple[bytes, bytes, bytes]:
    """(signer key PEM, chain PEM = signer + root, root PEM) of a fresh trial root CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    def name(common_name: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation[:64]),
            ]
        )

    def usage(*, sign: bool) -> x509.KeyUsage:
        return x509.KeyUsage(
            digital_signature=sign,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=not sign,
            crl_sign=not sign,
            encipher_only=False,
            decipher_only=False,
        )

    now = dt.datetime.now(dt.UTC)
    root_key = ec.generate_private_key(ec.SECP256R1())
    signer_key = ec.generate_private_key(ec.SECP256R1())
    root_name = name("Timbre trial root CA (untrusted)")
    root = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=max(days, 3650)))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage(sign=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), False)
        .sign(root_key, hashes.SHA256())
    )
    signer = (
        x509.CertificateBuilder()
        .subject_name(name("Timbre content credentials (trial)"))
        .issuer_name(root_name)
        .public_key(signer_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage(sign=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(signer_key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), False
        )
        .sign(root_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = signer_key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    root_pem = root.public_bytes(pem)
    return key_pem, signer.public_bytes(pem) + root_pem, root_pem
