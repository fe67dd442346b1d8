#!/usr/bin/python3
"""smime_value.py - a userSMIMECertificate value read by a parser of our own.

Usage:
  smime_value.py VALUE SIGNER ENC CA
      VALUE is the attribute's value, SIGNER, ENC and CA the user's signing
      (or dual) certificate, encryption certificate (the same file in dual
      mode) and the CA certificate, all DER files.  Checks that VALUE is
      strict DER (definite, minimal lengths; primitive strings; minimal
      integers; every SET OF sorted as X.690 11.6 says, and a re-encoding of
      what was decoded, with those rules, gives the same bytes) and is what
      Outlook's "Publish to GAL" writes (MS-OXOABK 2.2.4.36, example 4.2):
      a SignedData over the encapsulated "Empty Body", holding exactly the
      three certificates, one SignerInfo naming SIGNER by issuer and serial,
      and the signed attributes contentType, signingTime, messageDigest,
      SMIMECapabilities (AES-256, AES-192, AES-128 CBC, in that order, no
      parameters), smimeEncryptionKeyPreference ([0] issuerAndSerialNumber)
      and Microsoft's 1.3.6.1.4.1.311.16.4 (IssuerAndSerialNumber), both
      naming ENC.
  smime_value.py --cryptography VALUE SIGNER
      With python3-cryptography, warnings made errors: its PKCS#7 reader
      (pkcs7.load_der_pkcs7_certificates) takes VALUE without a warning, and
      the signature verifies with SIGNER's public key over the DER SET OF
      the signed attributes (RFC 5652 5.4).

Prints "ok - ..." or "FAIL - ..." per fact; exits 1 if any failed, 2 on
bad usage.  Uses only the standard library but in --cryptography mode.
"""
import datetime
import hashlib
import sys

ID_DATA = "1.2.840.113549.1.7.1"
ID_SIGNED_DATA = "1.2.840.113549.1.7.2"
SHA256 = "2.16.840.1.101.3.4.2.1"
CONTENT_TYPE = "1.2.840.113549.1.9.3"
MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
SIGNING_TIME = "1.2.840.113549.1.9.5"
SMIME_CAPABILITIES = "1.2.840.113549.1.9.15"
ENCRYP_KEY_PREF = "1.2.840.113549.1.9.16.2.11"
MS_ENCRYPTION_KEY_PREF = "1.3.6.1.4.1.311.16.4"
CAPABILITIES = ["2.16.840.1.101.3.4.1.42", "2.16.840.1.101.3.4.1.22",
                "2.16.840.1.101.3.4.1.2"]   # AES-256, -192, -128 CBC
EMPTY_BODY = b"Empty Body"

# Universal types DER encodes primitive only.
PRIMITIVE_ONLY = {1, 2, 3, 4, 5, 6, 10, 12, 18, 19, 20, 22, 23, 24, 26, 28, 30}

RESULTS = []


def fact(ok, what, detail=""):
    RESULTS.append(bool(ok))
    print(("ok   - " if ok else "FAIL - ") + what +
          ("" if ok or not detail else ": " + detail))
    return ok


class DerError(Exception):
    pass


class Node:
    """One TLV: tag octet, whole encoding buf[start:end], content."""

    def __init__(self, buf, start, tag, cstart, end, path):
        self.buf, self.start, self.tag = buf, start, tag
        self.cstart, self.end, self.path = cstart, end, path
        self.children = []
        self.set_of = tag == 0x31       # implicit ones are marked by walk()

    @property
    def constructed(self):
        return bool(self.tag & 0x20)

    @property
    def raw(self):
        return self.buf[self.start:self.end]

    @property
    def content(self):
        return self.buf[self.cstart:self.end]


def read_length(buf, pos, path):
    first = buf[pos]
    if first < 0x80:
        return first, pos + 1
    n = first & 0x7F
    if n == 0:
        raise DerError(f"{path}: indefinite length (BER, not DER)")
    if n > 4 or pos + 1 + n > len(buf):
        raise DerError(f"{path}: length of {n} octets")
    octets = buf[pos + 1:pos + 1 + n]
    value = int.from_bytes(octets, "big")
    if octets[0] == 0 or value < 0x80:
        raise DerError(f"{path}: length {value} not in its shortest form")
    return value, pos + 1 + n


def check_primitive(node):
    tag, c, path = node.tag, node.content, node.path
    if tag & 0xC0 != 0:
        return
    number = tag & 0x1F
    if number in PRIMITIVE_ONLY and node.constructed:
        raise DerError(f"{path}: universal type {number} constructed")
    if number in (16, 17) and not node.constructed:
        raise DerError(f"{path}: SEQUENCE/SET primitive")
    if number == 1 and (len(c) != 1 or c[0] not in (0, 0xFF)):
        raise DerError(f"{path}: BOOLEAN not 00 or FF")
    if number == 2 and (len(c) == 0 or (len(c) > 1 and (
            (c[0] == 0 and c[1] < 0x80) or (c[0] == 0xFF and c[1] >= 0x80)))):
        raise DerError(f"{path}: INTEGER not minimal")
    if number == 5 and len(c) != 0:
        raise DerError(f"{path}: NULL with content")


def parse(buf, pos, end, path):
    start = pos
    if pos + 2 > end:
        raise DerError(f"{path}: truncated")
    tag = buf[pos]
    if tag & 0x1F == 0x1F:
        raise DerError(f"{path}: high tag number (not used here)")
    length, pos = read_length(buf, pos + 1, path)
    if pos + length > end:
        raise DerError(f"{path}: length {length} runs past its container")
    node = Node(buf, start, tag, pos, pos + length, path)
    check_primitive(node)
    if node.constructed:
        p, i = pos, 0
        while p < node.end:
            child = parse(buf, p, node.end, f"{path}.{i}")
            node.children.append(child)
            p, i = child.end, i + 1
    return node


def encode_length(n):
    if n < 0x80:
        return bytes([n])
    octets = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(octets)]) + octets


def encode(node):
    """DER of what was decoded: SET OF children in X.690 11.6 order."""
    if not node.constructed:
        content = node.content
    else:
        parts = [encode(c) for c in node.children]
        if node.set_of:
            parts.sort()    # bytes order: shorter prefix first, as zero padding
        content = b"".join(parts)
    return bytes([node.tag]) + encode_length(len(content)) + content


def unsorted_sets(node, out):
    if node.set_of:
        raws = [c.raw for c in node.children]
        for i in range(1, len(raws)):
            if raws[i - 1] > raws[i]:
                out.append(f"{node.path}: element {i} sorts before element {i - 1}")
    for c in node.children:
        unsorted_sets(c, out)
    return out


def oid(node):
    if node.tag != 0x06:
        raise DerError(f"{node.path}: not an OBJECT IDENTIFIER")
    arcs, value = [], 0
    for b in node.content:
        value = (value << 7) | (b & 0x7F)
        if not b & 0x80:
            arcs.append(value)
            value = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(str(a) for a in [first, arcs[0] - 40 * first] + arcs[1:])


def child(node, i, tag, what):
    if len(node.children) <= i or node.children[i].tag != tag:
        raise DerError(f"{node.path}: {what} missing (tag {tag:#04x} at {i})")
    return node.children[i]


def issuer_and_serial(cert_der):
    """The issuer Name and serialNumber TLVs of a certificate."""
    cert = parse(cert_der, 0, len(cert_der), "cert")
    tbs = child(cert, 0, 0x30, "tbsCertificate")
    i = 1 if tbs.children[0].tag == 0xA0 else 0
    return child(tbs, i + 2, 0x30, "issuer").raw + child(tbs, i, 0x02, "serial").raw


def walk_signed_data(root):
    """The SignedData's parts; marks the implicit SET OFs."""
    if root.tag != 0x30 or oid(child(root, 0, 0x06, "contentType")) != ID_SIGNED_DATA:
        raise DerError("not a ContentInfo of type signedData")
    sd = child(child(root, 1, 0xA0, "content"), 0, 0x30, "SignedData")
    parts = {"sd": sd, "certs": None, "si": None}
    for c in sd.children[3:]:
        if c.tag == 0xA0:
            c.set_of = True             # certificates [0] IMPLICIT SET OF
            c.path = "SignedData.certificates"
            parts["certs"] = c
        elif c.tag == 0xA1:
            c.set_of = True             # crls [1] IMPLICIT SET OF
            c.path = "SignedData.crls"
    infos = sd.children[-1]
    if infos.tag != 0x31:
        raise DerError("SignedData: signerInfos missing")
    infos.path = "SignedData.signerInfos"
    parts["infos"] = infos
    if len(infos.children) == 1:
        si = infos.children[0]
        parts["si"] = si
        for c in si.children:
            if c.tag in (0xA0, 0xA1):
                c.set_of = True         # signed/unsigned attributes
                c.path = "SignerInfo." + ("signedAttrs" if c.tag == 0xA0 else "unsignedAttrs")
    return parts


def attributes(si):
    attrs = {}
    signed = [c for c in si.children if c.tag == 0xA0]
    for a in (signed[0].children if signed else []):
        values = child(a, 1, 0x31, "attrValues").children
        attrs.setdefault(oid(child(a, 0, 0x06, "attrType")), []).extend(values)
    return attrs


def der_checks(value, root):
    fact(encode(root) == value, "strict DER: decoding and encoding again gives the same bytes")
    bad = unsorted_sets(root, [])
    fact(not bad, "every SET OF is in DER order (certificates, attributes, ...)", "; ".join(bad))


def content_checks(parts):
    sd = parts["sd"]
    fact(child(sd, 0, 0x02, "version").content == b"\x01", "SignedData version 1")
    digests = [oid(child(a, 0, 0x06, "algorithm")) for a in child(sd, 1, 0x31, "digests").children]
    fact(digests == [SHA256], "digestAlgorithms: SHA-256 alone", str(digests))
    encap = child(sd, 2, 0x30, "encapContentInfo")
    econtent = [c for c in encap.children if c.tag == 0xA0]
    fact(oid(child(encap, 0, 0x06, "eContentType")) == ID_DATA and len(econtent) == 1 and
         child(econtent[0], 0, 0x04, "eContent").content == EMPTY_BODY,
         "encapsulated content: id-data \"Empty Body\", as Outlook writes")


def cert_checks(parts, signer, enc, ca):
    certs = parts["certs"]
    have = sorted(c.raw for c in certs.children) if certs else []
    want = sorted({signer, enc, ca})
    fact(have == want, f"certificates: exactly the user's and the CA's ({len(want)})",
         f"{len(have)} certificate(s), not those")


def signer_checks(parts, signer):
    si = parts["si"]
    if not fact(si is not None, "one SignerInfo", f"{len(parts['infos'].children)} of them"):
        return None
    fact(child(si, 0, 0x02, "version").content == b"\x01", "SignerInfo version 1")
    sid = child(si, 1, 0x30, "sid")
    fact(sid.content == issuer_and_serial(signer),
         "the signer is the user's signing certificate (issuer and serial)")
    fact(oid(child(child(si, 2, 0x30, "digestAlgorithm"), 0, 0x06, "alg")) == SHA256,
         "signer's digest: SHA-256")
    return attributes(si)


def one(attrs, type_oid, name):
    values = attrs.get(type_oid, [])
    fact(len(values) == 1, f"signed attribute {name} present once", f"{len(values)} value(s)")
    return values[0] if values else None


def signing_time_ok(node):
    text = node.content.decode("ascii", "replace")
    fmt = "%y%m%d%H%M%SZ" if node.tag == 0x17 else "%Y%m%d%H%M%SZ"
    try:
        when = datetime.datetime.strptime(text, fmt).replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return False
    return abs((datetime.datetime.now(datetime.timezone.utc) - when).total_seconds()) < 86400


def attribute_checks(attrs, enc):
    wanted = {CONTENT_TYPE, MESSAGE_DIGEST, SIGNING_TIME, SMIME_CAPABILITIES,
              ENCRYP_KEY_PREF, MS_ENCRYPTION_KEY_PREF}
    fact(set(attrs) == wanted, "exactly the six signed attributes", str(sorted(attrs)))
    v = one(attrs, CONTENT_TYPE, "contentType")
    fact(v is not None and oid(v) == ID_DATA, "contentType is id-data")
    v = one(attrs, MESSAGE_DIGEST, "messageDigest")
    fact(v is not None and v.tag == 0x04 and v.content == hashlib.sha256(EMPTY_BODY).digest(),
         "messageDigest is SHA-256 of \"Empty Body\"")
    v = one(attrs, SIGNING_TIME, "signingTime")
    fact(v is not None and v.tag == 0x17 and signing_time_ok(v),
         "signingTime: a UTCTime within a day of now")
    v = one(attrs, SMIME_CAPABILITIES, "SMIMECapabilities")
    caps = [[oid(c.children[0])] + [p.raw.hex() for p in c.children[1:]]
            for c in (v.children if v is not None and v.tag == 0x30 else [])]
    fact(caps == [[c] for c in CAPABILITIES],
         "SMIMECapabilities: AES-256-CBC, AES-192-CBC, AES-128-CBC, no parameters", str(caps))
    ias = issuer_and_serial(enc)
    v = one(attrs, ENCRYP_KEY_PREF, "smimeEncryptionKeyPreference")
    fact(v is not None and v.tag == 0xA0 and v.content == ias,
         "smimeEncryptionKeyPreference: [0] issuerAndSerialNumber of the encryption certificate")
    v = one(attrs, MS_ENCRYPTION_KEY_PREF, "1.3.6.1.4.1.311.16.4")
    fact(v is not None and v.tag == 0x30 and v.content == ias,
         "Microsoft's 1.3.6.1.4.1.311.16.4: IssuerAndSerialNumber of the encryption certificate")


def structure(value, signer, enc, ca):
    try:
        root = parse(value, 0, len(value), "value")
        if root.end != len(value):
            raise DerError(f"{len(value) - root.end} octets after the value")
        parts = walk_signed_data(root)
    except DerError as e:
        fact(False, "the value decodes as a DER ContentInfo of a SignedData", str(e))
        return
    der_checks(value, root)
    try:
        content_checks(parts)
        cert_checks(parts, signer, enc, ca)
        attrs = signer_checks(parts, signer)
        if attrs is not None:
            attribute_checks(attrs, enc)
    except DerError as e:
        fact(False, "the SignedData has the expected shape", str(e))


def with_cryptography(value, signer_der):
    import warnings
    warnings.simplefilter("error")
    import cryptography
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.hazmat.primitives.serialization import pkcs7

    try:
        certs = pkcs7.load_der_pkcs7_certificates(value)
        fact(len(certs) >= 2, f"python3-cryptography {cryptography.__version__} reads "
             f"the certificates without a warning ({len(certs)})")
    except Exception as e:       # a warning is an exception here
        fact(False, f"python3-cryptography {cryptography.__version__} reads it "
             "without a warning", f"{type(e).__name__}: {e}")
    si = walk_signed_data(parse(value, 0, len(value), "value"))["si"]
    signed = [c for c in si.children if c.tag == 0xA0] if si is not None else []
    if not fact(signed, "one SignerInfo with signed attributes"):
        return
    signed = signed[0]
    message = b"\x31" + signed.raw[1:]      # signed as the SET OF it is
    signature = [c for c in si.children if c.tag == 0x04][0].content
    key = x509.load_der_x509_certificate(signer_der).public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        else:
            key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        fact(True, "python3-cryptography verifies the signature over the DER attributes")
    except Exception as e:
        fact(False, "python3-cryptography verifies the signature", f"{type(e).__name__}: {e}")


def main(argv):
    def read(path):
        with open(path, "rb") as f:
            return f.read()
    if len(argv) == 4 and argv[1] == "--cryptography":
        with_cryptography(read(argv[2]), read(argv[3]))
    elif len(argv) == 5:
        structure(*(read(p) for p in argv[1:]))
    else:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    return 0 if all(RESULTS) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
