#!/usr/bin/env python3
"""hostile_gen.py - hostile directory data for agent_hostile.sh, and its checks.

Owns: 300 hostile users mixed with normal ones, as LDIF for slapd, and what
certsync must make of each (enrolled with a given SAN and CN, or skipped
with a reason matching a pattern); and the checks of the agent's log, of
`certsyncctl status` and of `certsyncctl list --active` against that.
Never: looks at certsync's code: the escaping rule (certsync.conf(5),
README "Escaping") is implemented here again, independently.

    hostile_gen.py ldif PEOPLE_DN DIR      writes DIR/users.ldif, DIR/expect.json
    hostile_gen.py check DIR DNS LOG STATUS LIST
                                           prints "ok   - ..." / "FAIL - ..."
                                           lines; exit 1 if any failed
    hostile_gen.py escape                  stdin -> stdout, escaped
    hostile_gen.py enrolled DIR            how many users get certificates
    hostile_gen.py raw FILE                fails if FILE holds raw characters
    hostile_gen.py expect DIR KEY FIELD    one expected value of one user

The users are named by their primary mail's local part (key); the DN is
uid=KEY unless the category puts something hostile into the RDN.
"""
import base64
import json
import re
import sys

DOMAIN = "example.test"
NORMAL = 50
LINE_MAX = 64          # RFC 5280 ub-common-name
ADDR_MAX = 100         # certsync's cap on addresses per certificate

users = []             # dicts: key, dn, attrs [(name, bytes)], expect, ...


def add(cat, key, cn, mails, expect, reason=None, dn_uid=None, aliases=(),
        san=None, cn_chars=None, subject=None, dup_group=None):
    """One user; mails and aliases are bytes; cn is bytes.  dn_uid: a
    hostile value for the RDN, in title (uid stays the key: certsync reads
    uid as a name, and would refuse the value there)."""
    users.append({
        "cat": cat, "key": key, "uid": key.encode(), "rdn": dn_uid, "cn": cn,
        "mails": list(mails),
        "aliases": list(aliases), "expect": expect, "reason": reason,
        "san": san, "cn_chars": cn_chars, "subject": subject,
        "dup": dup_group,
    })


def m(local, domain=DOMAIN):
    return ("%s@%s" % (local, domain)).encode()


def enroll(cat, key, cn, mails=None, aliases=(), san=None, dn_uid=None,
           dup_group=None):
    mails = mails or [m(key)]
    text = cn.decode("utf-8")
    add(cat, key, cn, mails, "enroll", dn_uid=dn_uid, aliases=aliases,
        san=san or [x.decode() for x in mails + list(aliases)],
        cn_chars=len(text), subject=text, dup_group=dup_group)


def skip(cat, key, cn, reason, mails=None, aliases=(), dn_uid=None,
         dup_group=None):
    add(cat, key, cn, mails or [m(key)], "skip", reason=reason,
        dn_uid=dn_uid, aliases=aliases, dup_group=dup_group)


def gen():
    # A. invalid mail syntax: 30
    bad = [
        (b"no-at-sign." + DOMAIN.encode(), "has no @"),
        (b"a@@" + DOMAIN.encode(), "not allowed in a (local part|domain)|empty"),
        (b"two words@" + DOMAIN.encode(), "contains whitespace"),
        (b".lead@" + DOMAIN.encode(), "misplaced dot"),
        (b"trail.@" + DOMAIN.encode(), "misplaced dot"),
        (b"a..b@" + DOMAIN.encode(), "misplaced dot"),
        (b"a@-x.test", "starting with a hyphen"),
        (b"a@x-.test", "ending in a hyphen"),
        (b"a@x..test", "empty label"),
        (b"a@", "empty domain"),
        (b"@" + DOMAIN.encode(), "empty local part"),
        (b'"quoted"@' + DOMAIN.encode(), "quoted local part"),
        (b"a@[127.0.0.1]", "address literal"),
        (b"a(comment)@" + DOMAIN.encode(), "not allowed in a local part"),
        (b"a<b>@" + DOMAIN.encode(), "not allowed in a local part"),
    ]
    for i in range(30):
        val, why = bad[i % len(bad)]
        key = "badmail%02d" % i
        # A second copy differs by a suffix in the domain, so no two users
        # share a value and the duplicate check stays out of it.
        if i >= len(bad) and b"@" in val and not val.endswith(b"@"):
            val = val + b"x" if not val.endswith(b"]") else val
        skip("bad_mail", key, b"Bad Mail %d" % i,
             r'mail ".*" .*(%s)' % why, mails=[val])
    # B. overlong addresses: 10
    for i in range(4):
        local = ("l%02d" % i) + "x" * 62                     # 65 characters
        skip("overlong_mail", "longlocal%d" % i, b"Long Local",
             "local part longer than 64", mails=[m(local)])
    for i in range(3):
        label = ("d%d" % i) + "y" * 62                       # 64 characters
        skip("overlong_mail", "longlabel%d" % i, b"Long Label",
             "label longer than 63", mails=[m("u", label + ".test")])
    for i in range(3):
        labels = ".".join(["z" * 60] * 4)                   # 243 + local
        skip("overlong_mail", "longaddr%d" % i, b"Long Address",
             "longer than 254", mails=[m("a%d" % i + "b" * 10, labels)])
    # C. names past the profile's bound: 20
    long_names = [("a", 65), ("\u00e9", 65), ("\u5c71", 65), ("\U0001F600", 64 + 1),
                  ("b", 100), ("c", 200), ("d", 256)]
    for i in range(20):
        ch, n = long_names[i % len(long_names)]
        if ch == "\U0001F600" and n * 4 > 256:
            n = 65                                          # 260 bytes: too many
        text = (ch * n)
        raw = text.encode()
        if len(raw) > 256:
            reason = r"cn is %d bytes long \(at most 256" % len(raw)
        else:
            reason = (r"subject CN would be %d characters long; RFC 5280 "
                      r"allows at most 64" % n)
        skip("long_name", "longname%02d" % i, raw, reason)
    # D. names at the bound, counted in characters: 20
    ok_names = ["a" * 64, "\u00e9" * 33, "\u00e9" * 64, "\u5c71" * 22,
                "\u5c71" * 64, "\U0001F600" * 64, "Z" + "\u00f6" * 63]
    for i in range(20):
        text = ok_names[i % len(ok_names)]
        enroll("max_name", "maxname%02d" % i, text.encode())
    # E. control characters, each named with its position: 30
    ctrl = [("\t", "TAB"), ("\n", "LF"), ("\r", "CR"), ("\x1b", "ESC"),
            ("\x7f", "DEL"), ("\x07", "BEL"), ("\x00", None),
            ("\u0085", "U\\+0085"), ("\u009b", "U\\+009B")]
    for i in range(24):
        ch, name = ctrl[i % len(ctrl)]
        pos = 1 + (i % 5)
        text = "Name"[:pos - 1] + ch + "Ctrl %d" % i
        if name is None:
            reason = "cn contains a NUL byte at position %d" % pos
        else:
            reason = r"cn contains a control character \(%s\) at position %d" % (
                name, pos)
        skip("control", "ctrl%02d" % i, text.encode(), reason)
    forged = ("\ncertsyncd: uid=admin,ou=people,dc=example,dc=test: issued "
              "signing certificate 01 for admin@%s" % DOMAIN)
    for i in range(3):
        local = "forged%d" % i
        skip("control", local, b"Forger",
             r"mail contains a control character \(LF\) at position %d" % (
                 len(local) + len(DOMAIN) + 2),
             mails=[m(local) + forged.encode()])
    for i in range(3):
        skip("control", "aliasctrl%d" % i, b"Alias Ctrl",
             r"description contains a control character \((CR|TAB)\) at "
             r"position 2", aliases=[(b"a\r" if i % 2 == 0 else b"a\t") +
                                      m("alias%d" % i)])
    # F. not UTF-8 (what slapd lets through): 20
    nonutf = [(b"\xf8\x88\x80\x80\x80", "0xF8"), (b"\xed\xa0\x80", "0xED"),
              (b"\xfc\x84\x80\x80\x80\x80", "0xFC"), (b"\xed\xbf\xbf", "0xED")]
    for i in range(20):
        seq, byte = nonutf[i % len(nonutf)]
        pos = 1 + (i % 7)
        raw = b"Bytes!!"[:pos - 1] + seq + b" %d" % i
        skip("non_utf8", "nonutf%02d" % i, raw,
             r"cn is not valid UTF-8 \(byte %s at position %d\)" % (byte, pos))
    # G. characters that reorder or hide text: 20
    fmt = [(0x202E, "a bidirectional override"), (0x202A, "a bidirectional override"),
           (0x202B, "a bidirectional override"), (0x202D, "a bidirectional override"),
           (0x2066, "a bidirectional override"), (0x2067, "a bidirectional override"),
           (0x2068, "a bidirectional override"), (0x2069, "a bidirectional override"),
           (0x2028, "a line or paragraph separator"),
           (0x2029, "a line or paragraph separator"),
           (0x200B, "an invisible character"), (0xFEFF, "an invisible character")]
    for i in range(20):
        cp, what = fmt[i % len(fmt)]
        text = "evil" + chr(cp) + "txt.exe %d" % i
        skip("bidi", "bidi%02d" % i, text.encode(),
             r"cn contains U\+%04X \(%s\) at position 5" % (cp, what))
    # H. right-to-left names, as written: 10
    rtl = ["\u05d3\u05e0\u05d4 \u05dc\u05d5\u05d9", "\u0633\u0627\u0631\u0629 \u0639\u0644\u064a",
           "Dana \u05dc\u05d5\u05d9\u200f", "\u200e\u05e9\u05dc\u05d5\u05dd Shalom"]
    for i in range(10):
        enroll("rtl", "rtl%02d" % i, (rtl[i % len(rtl)] + " %d" % i).encode())
    # I. emoji, legal in a UTF8String: 20
    emoji = ["\U0001F600 Smile", "Zo\u00eb \U0001F469\u200d\U0001F4BB", "\U0001F1E9\U0001F1EA Flag",
             "\U0001F468\u200d\U0001F469\u200d\U0001F467 Family", "Caf\u00e9 \u2615"]
    for i in range(20):
        enroll("emoji", "emoji%02d" % i, (emoji[i % len(emoji)] + " %d" % i).encode())
    # J. many addresses: 15
    for i, n in enumerate([300, 300, 150, 101, 101, 100, 100, 50, 50, 50,
                           10, 10, 10, 10, 2]):
        key = "many%02d" % i
        mails = [m(key)] + [m("%s.a%03d" % (key, j)) for j in range(1, n)]
        if n > ADDR_MAX:
            skip("aliases", key, b"Many Aliases",
                 r"^%d addresses are more than a certificate carries \(at most "
                 r"100\)" % n, mails=mails)
        else:
            enroll("aliases", key, b"Many Aliases", mails=mails)
    # K. one address, two users: 30 (15 pairs; one of each is skipped)
    for i in range(15):
        shared = m("shared%02d" % i)
        other = shared.upper() if i % 3 == 0 else shared
        if i % 3 == 1:
            other = m("Shared%02d" % i, DOMAIN.upper())
        a, b = "dupa%02d" % i, "dupb%02d" % i
        enroll("dup", a, b"Dup A", mails=[shared], dup_group=i)
        if i % 3 == 2:   # the clash is in an alias of the second user
            enroll("dup", b, b"Dup B", mails=[m(b)], aliases=[other],
                   dup_group=i)
        else:
            enroll("dup", b, b"Dup B", mails=[other], dup_group=i)
    # L. internationalized domains: 20
    for i in range(10):
        enroll("idn", "puny%02d" % i, b"Puny Code",
               mails=[m("puny%02d" % i, "xn--bcher-kva.example")])
    for i in range(6):
        skip("idn", "utf8dom%02d" % i, b"UTF-8 Domain",
             r"description .*non-ASCII characters \(internationalized",
             aliases=[("x%d@b\u00fccher.example" % i).encode()])
    for i in range(4):
        skip("idn", "utf8loc%02d" % i, b"UTF-8 Local",
             r"description .*non-ASCII characters \(internationalized",
             aliases=[("m\u00fcller%d@example.test" % i).encode()])
    # M. upper-case domains, lower-cased in the certificate: 20
    for i in range(20):
        local = "UpPer%02d" % i
        dom = ["EXAMPLE.TEST", "Example.Test", "SUB.EXAMPLE.TEST", "eXaMpLe.TeSt"][i % 4]
        add("upper", local, b"Upper Case", [m(local, dom)], "enroll",
            san=["%s@%s" % (local, dom.lower())], cn_chars=10,
            subject="Upper Case")
    # N. names that look like syntax: 15
    odd = ["Smith, John", "CN=evil,O=forged", "%{mail}", "back\\slash",
           "\"Quoted\"", "plus+sign", "semi;colon", "<angle>", "#hash",
           "equals=sign"]
    for i in range(15):
        enroll("odd_name", "odd%02d" % i, (odd[i % len(odd)] + " %d" % i).encode())
    # O. hostile DNs (the RDN's value), certified or skipped: 20
    for i in range(14):
        weird = ["rlo\u202eexe", "lf\nuid=admin", "esc\x1b[2J", "bs\\x0a"][i % 4]
        enroll("hostile_dn", "dn%02d" % i, b"Odd DN",
               dn_uid=(weird + " %d" % i).encode())
    for i in range(6):
        skip("hostile_dn", "dnbad%02d" % i, b"Odd\tDN",
             r"cn contains a control character \(TAB\) at position 4",
             dn_uid=("rlo\u202e\nskip %d" % i).encode())


def normal():
    for i in range(NORMAL):
        enroll("normal", "normal%02d" % i, ("Normal User %d" % i).encode())


def b64(v):
    return base64.b64encode(v).decode()


def ldif_value(name, v):
    """name: value, or name:: base64 when LDIF needs it."""
    safe = (v and all(0x20 <= c < 0x7f for c in v) and v[0] not in b" :<"
            and v[-1:] != b" ")
    return "%s: %s" % (name, v.decode()) if safe else "%s:: %s" % (name, b64(v))


def dn_of(u, people):
    """The DN as text (RFC 4514 escaping of the RDN's value)."""
    attr = "title" if u["rdn"] is not None else "uid"
    val = (u["rdn"] if u["rdn"] is not None else u["uid"]).decode("utf-8")
    out = ""
    for j, ch in enumerate(val):
        if ch in ',+"\\<>;=' or (ch == "#" and j == 0) or (ch == " " and (
                j == 0 or j == len(val) - 1)):
            out += "\\" + ch
        elif ch == "\x00":
            out += "\\00"
        else:
            out += ch
    return "%s=%s,%s" % (attr, out, people)


def write_ldif(people, d):
    gen()
    normal()
    with open(d + "/users.ldif", "w") as f:
        for u in users:
            dn = dn_of(u, people)
            u["dn"] = dn
            f.write(ldif_value("dn", dn.encode()) + "\n")
            f.write("changetype: add\nobjectClass: inetOrgPerson\n")
            f.write(ldif_value("uid", u["uid"]) + "\n")
            if u["rdn"] is not None:
                f.write(ldif_value("title", u["rdn"]) + "\n")
            f.write(ldif_value("cn", u["cn"]) + "\nsn: User\n")
            for v in u["mails"]:
                f.write(ldif_value("mail", v) + "\n")
            for v in u["aliases"]:
                f.write(ldif_value("description", v) + "\n")
            f.write("\n")
    out = []
    for u in users:
        out.append({k: (v.decode("utf-8", "replace") if isinstance(v, bytes)
                        else v) for k, v in u.items()
                    if k not in ("mails", "aliases", "uid", "rdn")})
        out[-1]["uid_b64"] = b64(u["uid"])
        out[-1]["primary"] = norm(u["mails"][0].decode("utf-8", "replace"))
    json.dump(out, open(d + "/expect.json", "w"), indent=0)
    n_h = sum(1 for u in users if u["cat"] != "normal")
    print("%d users (%d hostile, %d normal)" % (len(users), n_h, len(users) - n_h))


def norm(a):
    at = a.rfind("@")
    return a if at < 0 else a[:at + 1] + a[at + 1:].lower()


# ---- the escaping rule, independently ------------------------------------

def escape(b):
    """certsync's printing rule (certsync.conf(5)), on bytes -> str."""
    out, i = [], 0
    while i < len(b):
        c = b[i]
        n = 1 if c < 0x80 else 2 if c >> 5 == 6 else 3 if c >> 4 == 14 else \
            4 if c >> 3 == 30 else 0
        cp = None
        if n == 1:
            cp = c
        elif n > 1 and i + n <= len(b):
            try:
                s = b[i:i + n].decode("utf-8")
                cp = ord(s) if len(s) == 1 else None
            except UnicodeDecodeError:
                cp = None
        if cp is None:
            out.append("\\x%02x" % c)
            i += 1
            continue
        if cp < 0x20 or cp == 0x7f:
            out.append("\\x%02x" % cp)
        elif cp == 0x5c:
            out.append("\\\\")
        elif 0x80 <= cp <= 0x9f or cp in (0x061C, 0x200B, 0x200E, 0x200F,
                                          0xFEFF) or 0x2028 <= cp <= 0x202E or \
                0x2066 <= cp <= 0x2069:
            out.append("\\u%04x" % cp)
        else:
            out.append(b[i:i + n].decode("utf-8"))
        i += n
    return "".join(out)


# ---- checks ---------------------------------------------------------------

fails = 0
checks = 0


def check(ok, what, detail=""):
    global fails, checks
    checks += 1
    if ok:
        print("ok   - " + what)
    else:
        fails += 1
        print("FAIL - " + what + ("\n       " + detail if detail else ""))


RAW = re.compile(rb"[\x00-\x09\x0b-\x1f\x7f]|\xc2[\x80-\x9f]|\xe2\x80[\x8b\x8e\x8f\xa8-\xae]"
                 rb"|\xe2\x81[\xa6-\xa9]|\xef\xbb\xbf|\xd8\x9c")


def raw_bytes(data):
    """Lines holding a raw control or formatting character (LF ends lines)."""
    return [ln for ln in data.split(b"\n") if RAW.search(ln) or not valid(ln)]


def valid(b):
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def server_dns(path):
    """uid (base64) -> DN (bytes), from ldapsearch -LLL -o ldif-wrap=no."""
    dns, dn, uid = {}, None, None
    for ln in open(path, "rb").read().split(b"\n") + [b""]:
        if not ln:
            if dn is not None and uid is not None:
                dns[b64(uid)] = dn
            dn = uid = None
            continue
        name, _, rest = ln.partition(b":")
        val = base64.b64decode(rest[2:]) if rest.startswith(b": ") else rest[1:]
        if name == b"dn":
            dn = val
        elif name == b"uid":
            uid = val
    return dns


def run_checks(d, dns_path, log_path, status_path, list_path):
    exp = json.load(open(d + "/expect.json"))
    dns = server_dns(dns_path)
    missing = [u["key"] for u in exp if u["uid_b64"] not in dns]
    check(not missing, "all %d users are in the directory" % len(exp),
          "missing: %r" % missing[:5])
    for u in exp:
        u["dn"] = dns.get(u["uid_b64"], b"?")
    log = open(log_path, "rb").read()
    status = open(status_path, "rb").read()
    listing = open(list_path, "rb").read()
    for name, data in (("log", log), ("status", status), ("list", listing)):
        bad = raw_bytes(data)
        check(not bad, "%s: no raw control, C1, bidi or invisible character, "
              "no byte that is not UTF-8" % name, repr(bad[:3]))
    lines = log.decode().split("\n")
    check(all(ln.startswith("certsyncd: ") for ln in lines if ln),
          "log: every line is one of certsyncd's (none forged, none split)",
          repr([ln for ln in lines if ln and not ln.startswith("certsyncd: ")][:3]))
    # Active certificates by primary address: the first of ADDRESSES.
    active = {}
    for ln in listing.decode().split("\n")[1:]:
        f = ln.split(None, 4)
        if len(f) == 5:
            addrs = f[4].split(", ")
            active.setdefault(addrs[0], []).append((f[1], addrs))
    sblock = status.decode().split("skipped users:\n", 1)[-1]
    sblock = sblock.split("\nCRL:", 1)[0].split("\n")
    skiplines = [ln for ln in lines if ": skipped: " in ln]
    per_cat = {}
    groups = {}
    for u in exp:
        dn_esc = escape(u["dn"])
        mine = [ln for ln in skiplines if ln.split(": warning: ", 1)[-1]
                .startswith(dn_esc + ": skipped: ")]
        certs = active.get(u["primary"], [])
        listed = [ln for ln in sblock if ln.startswith("  " + dn_esc + " (")]
        st = per_cat.setdefault(u["cat"], [0, 0, 0])
        if u["dup"] is not None:
            groups.setdefault(u["dup"], []).append((u, mine, certs, listed))
            continue
        if u["expect"] == "enroll":
            ok = (len(certs) == 2 and not mine and not listed and
                  sorted(certs[0][1]) == sorted(u["san"]))
            st[0] += ok
            if not ok:
                check(False, "%s %s: enrolled" % (u["cat"], u["key"]),
                      "certs %r, skip lines %r" % (certs[:2], mine))
        else:
            r = re.compile(u["reason"])
            ok = (len(mine) == 1 and not certs and len(listed) == 1 and
                  r.search(mine[0].split(": skipped: ", 1)[1]) is not None)
            st[1] += ok
            if not ok:
                check(False, "%s %s: skipped once, listed, reason /%s/" % (
                    u["cat"], u["key"], u["reason"]), "log %r status %r" % (
                    mine, listed))
        st[2] += 1
    for cat, (e, s, n) in sorted(per_cat.items()):
        if n:
            check(e + s == n, "%s: all %d users as expected (%d enrolled, %d "
                  "skipped)" % (cat, n, e, s))
    dup_ok = 0
    for g, members in sorted(groups.items()):
        enrolled = [x for x in members if len(x[2]) == 2 and not x[1]]
        skipped = [x for x in members if len(x[1]) == 1 and not x[2] and
                   len(x[3]) == 1 and "is also used by" in x[1][0]]
        dup_ok += len(enrolled) == 1 and len(skipped) == 1
    check(dup_ok == len(groups), "dup: in each of the %d pairs one user is "
          "enrolled, the other skipped naming the holder (%d right)" % (
              len(groups), dup_ok))
    n_skip = sum(1 for ln in sblock if ln.startswith("  ") and ln != "  none")
    want = sum(1 for u in exp if u["expect"] == "skip") + len(groups)
    check(n_skip == want, "status lists %d skipped users (%d expected)" % (
        n_skip, want))
    check(len(skiplines) == want, "the log has %d skip lines (%d expected)" % (
        len(skiplines), want))
    print("# %d checks, %d failed" % (checks, fails))
    return 1 if fails else 0


def main():
    if sys.argv[1] == "ldif":
        write_ldif(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "check":
        sys.exit(run_checks(*sys.argv[2:7]))
    elif sys.argv[1] == "enrolled":
        # enrolled DIR: how many users must end up with certificates
        exp = json.load(open(sys.argv[2] + "/expect.json"))
        print(sum(1 for u in exp if u["expect"] == "enroll" and u["dup"] is None)
              + len(set(u["dup"] for u in exp if u["dup"] is not None)))
    elif sys.argv[1] == "raw":
        # raw FILE: fails (listing them) if lines hold raw characters
        bad = raw_bytes(open(sys.argv[2], "rb").read())
        for ln in bad[:5]:
            print(repr(ln))
        sys.exit(1 if bad else 0)
    elif sys.argv[1] == "escape":
        sys.stdout.write(escape(sys.stdin.buffer.read()))
    elif sys.argv[1] == "expect":
        # expect DIR KEY FIELD: one field of one user
        for u in json.load(open(sys.argv[2] + "/expect.json")):
            if u["key"] == sys.argv[3]:
                v = u[sys.argv[4]]
                print("\n".join(v) if isinstance(v, list) else v)
    else:
        sys.exit("usage: hostile_gen.py ldif|check|escape|expect ...")


if __name__ == "__main__":
    main()
