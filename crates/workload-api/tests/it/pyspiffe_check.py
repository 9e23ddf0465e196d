"""py-spiffe (spiffe==0.3.2) against a keybound Workload API.

Run by tests/it/acceptance.rs with SPIFFE_ENDPOINT_SOCKET set. Fetches
X.509 and JWT SVIDs and bundles, checks each against the others (the
SVID's leaf chains to the bundle, the JWT-SVID verifies offline with the
fetched JWKS), validates a JWT-SVID through the API, and checks that a
forged token is refused. Prints "pyspiffe ok: N checks" on success.
"""
import sys

from cryptography.hazmat.primitives.asymmetric import ec
from spiffe import JwtSvid, SpiffeId, TrustDomain, WorkloadApiClient

TD = TrustDomain("example.org")
FED = TrustDomain("example-federated.org")
IDS = {"spiffe://example.org/myservice", "spiffe://example.org/myservice2"}
checks = 0


def check(cond, what):
    global checks
    if not cond:
        print("pyspiffe FAILED:", what, file=sys.stderr)
        sys.exit(1)
    checks += 1


with WorkloadApiClient() as client:
    svid = client.fetch_x509_svid()
    check(str(svid.spiffe_id) in IDS, "x509 svid id")
    svids = client.fetch_x509_svids()
    check({str(s.spiffe_id) for s in svids} == IDS, "both x509 svids")

    ctx = client.fetch_x509_context()
    own = ctx.x509_bundle_set.get_bundle_for_trust_domain(TD)
    check(own is not None and len(own.x509_authorities) == 1, "own x509 bundle")
    fed = ctx.x509_bundle_set.get_bundle_for_trust_domain(FED)
    check(fed is not None and len(fed.x509_authorities) == 1, "federated x509 bundle")
    # The leaf verifies under the bundle's root.
    root = next(iter(own.x509_authorities))
    leaf = ctx.default_svid.leaf
    root.public_key().verify(
        leaf.signature, leaf.tbs_certificate_bytes, ec.ECDSA(leaf.signature_hash_algorithm)
    )
    check(True, "leaf signed by the bundle root")

    bundles = client.fetch_x509_bundles()
    check(bundles.get_bundle_for_trust_domain(TD) is not None, "x509 bundles")

    jwt = client.fetch_jwt_svid(audience={"py-aud"})
    check(str(jwt.spiffe_id) in IDS and jwt.audience == {"py-aud"}, "jwt svid")
    one = client.fetch_jwt_svid(
        audience={"py-aud"}, subject=SpiffeId("spiffe://example.org/myservice2")
    )
    check(str(one.spiffe_id) == "spiffe://example.org/myservice2", "jwt svid by id")
    all_jwt = client.fetch_jwt_svids(audience={"py-aud"})
    check({str(s.spiffe_id) for s in all_jwt} == IDS, "both jwt svids")

    jwt_bundles = client.fetch_jwt_bundles()
    jb = jwt_bundles.get_bundle_for_trust_domain(TD)
    check(jb is not None and len(jb.jwt_authorities) >= 1, "jwt bundle")
    offline = JwtSvid.parse_and_validate(jwt.token, jb, {"py-aud"})
    check(offline.spiffe_id == jwt.spiffe_id, "offline jwt validation")

    validated = client.validate_jwt_svid(jwt.token, "py-aud")
    check(validated.spiffe_id == jwt.spiffe_id, "validate_jwt_svid")

    # Wrong audience and a tampered token are refused by the API.
    for token, aud in ((jwt.token, "other-aud"), (jwt.token[:-4] + "AAAA", "py-aud")):
        try:
            client.validate_jwt_svid(token, aud)
        except Exception:  # noqa: BLE001 - any refusal will do
            check(True, "refused")
        else:
            check(False, "a bad token validated")

print(f"pyspiffe ok: {checks} checks")
