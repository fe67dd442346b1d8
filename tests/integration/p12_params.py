#!/usr/bin/env python3
"""p12_params.py FILE - prints the protection parameters of a PKCS#12 file.

A DER reader of our own (no PKCS#12 library), so the tests can see what
`openssl pkcs12 -info` does not print: the key bag's PBKDF2 salt and
iteration count, its AES-256-CBC IV, and the MacData's salt and count.
Prints one line per item found, in file order:
    keybag-salt HEX / keybag-iter N / keybag-iv HEX / mac-salt HEX / mac-iter N
Exit 1 when the file is not DER it can read.
"""
import sys

PBKDF2 = "1.2.840.113549.1.5.12"
AES256CBC = "2.16.840.1.101.3.4.1.42"
SHA256 = "2.16.840.101.3.4.2.1"


def tlv(b, i):
    """(tag, start of contents, end) of the TLV at b[i]."""
    tag = b[i]
    n = b[i + 1]
    j = i + 2
    if n & 0x80:
        k = n & 0x7F
        if k == 0 or k > 4:
            raise ValueError("bad length")
        n = int.from_bytes(b[j:j + k], "big")
        j += k
    if j + n > len(b):
        raise ValueError("truncated")
    return tag, j, j + n


def oid(b):
    first = b[0]
    parts = [first // 40, first % 40]
    v = 0
    for x in b[1:]:
        v = (v << 7) | (x & 0x7F)
        if not x & 0x80:
            parts.append(v)
            v = 0
    return ".".join(map(str, parts))


def walk(b, out):
    """Every TLV of b, depth first; OCTET STRINGs that hold DER entered."""
    i = 0
    while i < len(b):
        tag, s, e = tlv(b, i)
        out.append((tag, b[s:e]))
        if tag & 0x20:
            walk(b[s:e], out)
        elif tag == 0x04:
            try:
                inner = []
                walk(b[s:e], inner)
                out.extend(inner)
            except (ValueError, IndexError):
                pass
        i = e


def main():
    der = open(sys.argv[1], "rb").read()
    items = []
    try:
        walk(der, items)
    except (ValueError, IndexError) as e:
        print("not DER: %s" % e)
        return 1
    for n, (tag, val) in enumerate(items):
        if tag != 0x06:
            continue
        o = oid(val)
        if o == PBKDF2:
            # SEQUENCE { salt OCTET STRING, iterations INTEGER, ... }
            salt, it = items[n + 2], items[n + 3]
            print("keybag-salt", salt[1].hex().upper())
            print("keybag-iter", int.from_bytes(it[1], "big"))
        elif o == AES256CBC:
            print("keybag-iv", items[n + 1][1].hex().upper())
    # MacData: the last SEQUENCE { DigestInfo, salt OCTET STRING, iter }
    top = []
    tag, s, e = tlv(der, 0)
    i = s
    while i < e:
        t, a, z = tlv(der, i)
        top.append((t, der[a:z]))
        i = z
    if len(top) == 3:
        mac = []
        walk(top[2][1], mac)
        octs = [v for t, v in mac if t == 0x04]
        ints = [v for t, v in mac if t == 0x02]
        print("mac-salt", octs[-1].hex().upper())
        print("mac-iter", int.from_bytes(ints[-1], "big") if ints else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
