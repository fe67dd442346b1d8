#!/bin/sh
# agent_http.sh - certsyncd's HTTP listener ([http] listen) against a real
# slapd, with a client of the test's own (python3, raw sockets).
#
# Proves that:
#  - the CRL is served at the path of [certificates] crl_url as
#    application/pkix-crl, byte for byte the file crl_publish wrote (and
#    openssl parses it); the CA certificate at aia_url's path as
#    application/pkix-cert, the DER of the PEM file;
#  - each has an ETag and a Last-Modified (the CRL's thisUpdate), and
#    If-None-Match (exact, weak, "*", a list) or If-Modified-Since answer
#    304 without a body while another tag, an older date or a malformed one
#    get 200; the CRL's Cache-Control max-age is at most an hour and never
#    past its nextUpdate; after a revocation the CRL, its ETag and its body
#    change, and the old tag gets 200 with the new CRL;
#  - HEAD gets GET's headers (Content-Length of the body) and no body;
#  - /metrics is Prometheus text 0.0.4 that promtool accepts, with jobs by
#    state, the counters (issued 4, revoked 2, published 4 after an
#    enrollment and a reissue), directory connected, the CRL's age and
#    next update, and the change-to-published histogram with samples; and
#    the alerting rules of conf/prometheus-alerts.yml pass promtool;
#  - /healthz: 200 "ok" while connected with a fresh CRL; 503 naming the
#    directory when slapd is stopped (and 200 again when it is back); 503
#    naming the waiting revocation and the missing CRL when the CRL cannot
#    be written for longer than [http] revocation_delay_max;
#  - nothing else: 404 for other paths, 405 with Allow: GET, HEAD for any
#    other method (known or not);
#  - hostile clients get 4xx or a closed connection and never a crash: a
#    100 KB request line, 10000 headers, NULs, binary garbage, a body too
#    large, 300 random mutations of a valid request; a half-sent request
#    and a silent connection are closed after [http] timeout, 100 of them
#    at once too; the agent serves on afterwards;
#  - it listens on IPv6 ([::1]) as well; a port already taken makes
#    certsyncd exit 69 with one line naming [http] listen; a crl_url whose
#    path is /metrics is refused at load (78).
. "$CS_SRCDIR/tests/integration/lib.sh"
. "$CS_SRCDIR/tests/integration/slapd.sh"
cs_need ldapmodify python3 openssl promtool awk cmp
CS_KEY_TYPE=ec:P-256
cs_setup
slapd_start
cp "$CONF" "$T/core.conf"
cs_agent_conf
ALICE="uid=alice,$SLAPD_PEOPLE"
ldap_add_user alice alice@example.test "Alice Example" Alice Example
cp "$CONF" "$T/base.conf"
# with_ports: the configuration with a fresh pair of random ports.
with_ports() {
	PORT=$(_slapd_random_port)
	PORT6=$((PORT + 1))
	{
		cat "$T/base.conf"
		printf '[http]\nlisten = 127.0.0.1:%s [::1]:%s\n' "$PORT" "$PORT6"
		printf 'timeout = 2\nrevocation_delay_max = 3\n'
	} > "$CONF"
}
# A failure that ends the test early still shows what the agent said.
cs_on_exit '[ "$cs_rc" -eq 0 ] || { echo "# the agent log:"; tail -n 30 "$T/agent.log" | sed "s/^/#   /"; }'

# ---- the client -----------------------------------------------------------------
# http.py req HOST PORT METHOD PATH [HEADER: VALUE]...: one request; prints
#   the status code, then the headers as "name: value" (names lower-cased),
#   and writes the body to $BODY.
# http.py raw HOST PORT FILE: sends FILE's bytes as they are, prints the
#   status code of the answer, or "closed" when the server closes without
#   one.
# http.py idle HOST PORT N SECONDS PREFIX: opens N connections, sends PREFIX
#   (may be empty) on each, and prints how many the server closed within
#   SECONDS.
# http.py fuzz HOST PORT N SEED: N random mutations of a valid request;
#   prints one status code (or "closed") per line.
# Every socket operation has a timeout: nothing here can hang the test.
cat > "$T/http.py" <<'PY'
import os, random, socket, sys, time

def connect(host, port, timeout=10):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((host, port))
    return s

def read_answer(s, head):
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        if b"\r\n\r\n" not in data:
            return None, {}, b""
        top, body = data.split(b"\r\n\r\n", 1)
        lines = top.decode("latin-1").split("\r\n")
        code = lines[0].split(" ")[1]
        hdrs = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        n = int(hdrs.get("content-length", "0"))
        if head or code in ("304",):
            n = 0
        while len(body) < n:
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
        # Anything past Content-Length would be a body the answer lied about.
        s.settimeout(0.2)
        try:
            extra = s.recv(65536)
        except (socket.timeout, OSError):
            extra = b""
        return code, hdrs, body + extra
    except (ConnectionResetError, socket.timeout):
        return None, {}, b""

def req(host, port, method, path, *headers):
    s = connect(host, int(port))
    text = "%s %s HTTP/1.1\r\nHost: test\r\nConnection: close\r\n" % (method, path)
    text += "".join(h + "\r\n" for h in headers) + "\r\n"
    s.sendall(text.encode("latin-1"))
    code, hdrs, body = read_answer(s, method == "HEAD")
    print(code or "closed")
    for k, v in sorted(hdrs.items()):
        print("%s: %s" % (k, v))
    with open(os.environ["BODY"], "wb") as f:
        f.write(body)

def raw_one(host, port, data):
    try:
        s = connect(host, port)
        s.sendall(data)
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        code, _, _ = read_answer(s, False)
        s.close()
        return code or "closed"
    except (ConnectionResetError, BrokenPipeError):
        return "closed"

def raw(host, port, path):
    print(raw_one(host, int(port), open(path, "rb").read()))

def idle(host, port, n, seconds, prefix):
    socks = [connect(host, int(port)) for _ in range(int(n))]
    for s in socks:
        if prefix:
            s.sendall(prefix.encode().replace(b"\\r\\n", b"\r\n"))
    end = time.monotonic() + float(seconds)
    closed = set()
    while time.monotonic() < end and len(closed) < len(socks):
        for i, s in enumerate(socks):
            if i in closed:
                continue
            s.settimeout(0.05)
            try:
                if s.recv(65536) == b"":
                    closed.add(i)
            except socket.timeout:
                pass
            except OSError:
                closed.add(i)
    print(len(closed))

def mutate(rng, data):
    data = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        op = rng.randint(0, 4)
        i = rng.randrange(len(data) + 1)
        if op == 0 and data:
            data[i % len(data)] = rng.randrange(256)
        elif op == 1:
            data[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 40)))
        elif op == 2 and data:
            del data[i:i + rng.randint(1, 20)]
        elif op == 3:
            data[i:i] = rng.choice([b"\0", b"\r\n", b"\r\n\r\n", b":", b" ", b"%", b"\xff" * 3000])
        else:
            data[i:i] = rng.choice([b"Content-Length: 99999999\r\n", b"Transfer-Encoding: chunked\r\n",
                                    b"Expect: 100-continue\r\n", b"If-None-Match: *\r\n"])
    return bytes(data)

def fuzz(host, port, n, seed):
    rng = random.Random(int(seed))
    base = b"GET /metrics HTTP/1.1\r\nHost: test\r\nAccept: */*\r\n\r\n"
    for _ in range(int(n)):
        print(raw_one(host, int(port), mutate(rng, base)))

cmd, args = sys.argv[1], sys.argv[2:]
{"req": req, "raw": raw, "idle": idle, "fuzz": fuzz}[cmd](*args)
PY
BODY=$T/body; export BODY
H=$T/headers
# get METHOD PATH [HEADER]...: the answer's status and headers into $H, body into $BODY.
get() { m=$1 p=$2; shift 2; python3 "$T/http.py" req 127.0.0.1 "$PORT" "$m" "$p" "$@" > "$H"; }
status_is() { echo "status $(head -n 1 "$H"), wanted $1"; [ "$(head -n 1 "$H")" = "$1" ]; }
header() { sed -n "s/^$1: //p" "$H"; }
header_is() { echo "$1: $(header "$1"), wanted $2"; [ "$(header "$1")" = "$2" ]; }
body_empty() { [ ! -s "$BODY" ]; }
answer() { get "$@" && head -n 1 "$H"; }	# METHOD PATH [HEADER]...: the status
healthy() { get GET /healthz && status_is 200 && [ "$(cat "$BODY")" = ok ]; }
crl_file_is_served() { get GET /ca.crl && status_is 200 && cmp "$BODY" "$T/crl/ca.crl"; }

echo "# start"
# A random port someone else holds makes the agent exit 69 at once: then
# another pair (at most 5 tries).
listening() { grep -q "http: listening on \\[::1\\]:$PORT6" "$T/agent.log"; }
started() { listening || grep -q 'cannot listen' "$T/agent.log"; }
for try in 1 2 3 4 5; do
	with_ports
	: > "$T/agent.log"
	cs_agent_start
	cs_wait_for 15 started || :
	grep -q 'cannot listen: Address already in use' "$T/agent.log" || break
	echo "# ports $PORT/$PORT6 taken (try $try)"
	cs_agent_stop
done
check "the agent listens on 127.0.0.1:$PORT and [::1]:$PORT6" listening
check "/healthz says ok once connected with a CRL" cs_wait_for 30 healthy
check "... as text/plain, not cached" sh -c "grep -q '^content-type: text/plain' '$H' && grep -q '^cache-control: no-store' '$H'"
check "alice is enrolled" cs_wait_for 30 sh -c "'$CTL' -c '$CONF' list --active | grep -q alice@"

echo "# the CRL and the CA certificate"
check "GET /ca.crl: 200" get GET /ca.crl
check "... the CRL file, byte for byte" cmp "$BODY" "$T/crl/ca.crl"
check "... as application/pkix-crl" header_is content-type application/pkix-crl
check "... which openssl reads as a CRL" openssl crl -inform DER -in "$BODY" -noout
ETAG=$(header etag)
check "... with an ETag ($ETAG)" sh -c "echo '$ETAG' | grep -Eq '^\"[0-9a-f]{32}\"\$'"
last_update() { date -u -d "$(openssl crl -inform DER -in "$T/crl/ca.crl" -noout -lastupdate | sed 's/^lastUpdate=//')" '+%a, %d %b %Y %H:%M:%S GMT'; }
check "... Last-Modified is the CRL's thisUpdate" header_is last-modified "$(last_update)"
LASTMOD=$(header last-modified)
max_age_ok() { # at most an hour, and not past nextUpdate
	age=$(header cache-control | sed -n 's/.*max-age=\([0-9]*\).*/\1/p')
	next=$(date -u -d "$(openssl crl -inform DER -in "$T/crl/ca.crl" -noout -nextupdate | sed 's/^nextUpdate=//')" +%s)
	echo "Cache-Control: $(header cache-control); nextUpdate in $((next - $(date +%s))) s"
	[ -n "$age" ] && [ "$age" -le 3600 ] && [ "$age" -le $((next - $(date +%s) + 1)) ]
}
check "... Cache-Control max-age at most an hour and not past nextUpdate" max_age_ok
check "HEAD /ca.crl: 200" get HEAD /ca.crl
check "... no body" body_empty
check "... Content-Length of the CRL" header_is content-length "$(wc -c < "$T/crl/ca.crl" | tr -d ' ')"
check "... the same ETag" header_is etag "$ETAG"
get GET /ca.crl "If-None-Match: $ETAG"
check "If-None-Match with the ETag: 304" status_is 304
check "... no body" body_empty
check "... the ETag again" header_is etag "$ETAG"
get GET /ca.crl "If-None-Match: W/$ETAG"
check "a weak If-None-Match: 304" status_is 304
get GET /ca.crl 'If-None-Match: "0000", '"$ETAG"
check "a list holding the ETag: 304" status_is 304
get GET /ca.crl 'If-None-Match: *'
check "If-None-Match: *: 304" status_is 304
get GET /ca.crl 'If-None-Match: "0000"'
check "another ETag: 200" status_is 200
get GET /ca.crl "If-Modified-Since: $LASTMOD"
check "If-Modified-Since of Last-Modified: 304" status_is 304
get GET /ca.crl "If-Modified-Since: Mon, 01 Jan 2001 00:00:00 GMT"
check "an older If-Modified-Since: 200" status_is 200
get GET /ca.crl "If-Modified-Since: yesterday"
check "a malformed If-Modified-Since: 200" status_is 200
get GET /ca.crl 'If-None-Match: "0000"' "If-Modified-Since: $LASTMOD"
check "If-None-Match wins over If-Modified-Since: 200" status_is 200
openssl x509 -in "$T/ca/ca.crt" -outform DER -out "$T/ca.der"
check "GET /ca.crt: 200" get GET /ca.crt
check "... the CA certificate in DER" cmp "$BODY" "$T/ca.der"
check "... as application/pkix-cert" header_is content-type application/pkix-cert
check "... cached for a day" header_is cache-control "public, max-age=86400, no-transform"
CERT_ETAG=$(header etag)
get GET /ca.crt "If-None-Match: $CERT_ETAG"
check "... and 304 for its ETag" status_is 304

echo "# a reissue: counters, the histogram, a new CRL"
printf 'dn: %s\nchangetype: modify\nreplace: mail\nmail: alice.smith@example.test\n' "$ALICE" |
    ldap_admin_modify >/dev/null
crl_changed() { get GET /ca.crl "If-None-Match: $ETAG" && status_is 200; }
check "after the revocation the old ETag gets 200" cs_wait_for 30 crl_changed
check "... with the new CRL" cmp "$BODY" "$T/crl/ca.crl"
check "... and a new ETag" test "$(header etag)" != "$ETAG"
check "GET /metrics: 200" get GET /metrics
cp "$BODY" "$T/metrics.txt"
check "... text/plain; version=0.0.4" header_is content-type "text/plain; version=0.0.4; charset=utf-8"
check "promtool check metrics accepts it" sh -c "promtool check metrics < '$T/metrics.txt'"
check "promtool check rules accepts conf/prometheus-alerts.yml" \
    promtool check rules "$CS_SRCDIR/conf/prometheus-alerts.yml"
metric() { awk -v m="$1" '$1 == m { print $2 }' "$T/metrics.txt"; }
metric_is() { echo "$1 = $(metric "$1"), wanted $2"; [ "$(metric "$1")" = "$2" ]; }
check "certificates issued: 4" metric_is certsync_certificates_issued_total 4
check "certificates revoked: 2" metric_is certsync_certificates_revoked_total 2
check "certificates published: 4" metric_is certsync_certificates_published_total 4
check "directory connected" metric_is certsync_directory_connected 1
check "jobs by state, PLANNED listed at 0" metric_is 'certsync_jobs{state="PLANNED"}' 0
check "jobs parked: listed at 0" metric_is 'certsync_jobs{state="parked"}' 0
check "jobs by state, REVOKED listed" sh -c "grep -q '^certsync_jobs{state=\"REVOKED\"} ' '$T/metrics.txt'"
check "errors by kind: directory 0" metric_is 'certsync_errors_total{kind="directory"}' 0
check "CRL age in seconds" sh -c "grep -Eq '^certsync_crl_age_seconds [0-9]+\$' '$T/metrics.txt'"
check "CRL next update in seconds (about a week)" sh -c \
    "awk '\$1 == \"certsync_crl_next_update_seconds\" && \$2 > 600000 { ok = 1 } END { exit !ok }' '$T/metrics.txt'"
check "seconds since the last directory event" sh -c "grep -Eq '^certsync_directory_last_event_seconds [0-9]+\$' '$T/metrics.txt'"
check "change-to-published latency: 2 samples (the enrollment, the reissue)" \
    metric_is certsync_change_to_published_seconds_count 2
check "... each within 30 s" metric_is 'certsync_change_to_published_seconds_bucket{le="30"}' 2
check "no key pool, no key pool metric" sh -c "! grep -q '^certsync_key_pool_keys ' '$T/metrics.txt'"

echo "# /healthz follows the directory"
slapd_stop
unhealthy_dir() { get GET /healthz && status_is 503 && grep -q '^directory not connected: ' "$BODY"; }
check "slapd stopped: 503 naming the directory" cs_wait_for 20 unhealthy_dir
cat "$BODY"
get GET /metrics
check "... and certsync_directory_connected 0" sh -c "grep -q '^certsync_directory_connected 0\$' '$BODY'"
slapd_restart
check "slapd back: 200 ok again" cs_wait_for 30 healthy

echo "# /healthz follows the CRL"
ldap_add_user bob bob@example.test "Bob Builder" Bob Builder
check "bob is enrolled" cs_wait_for 30 sh -c "'$CTL' -c '$CONF' list --active | grep -q bob@"
mv "$T/crl" "$T/crl.real"
: > "$T/crl"	# a file where the directory was: the CRL cannot be written
printf 'dn: uid=bob,%s\nchangetype: modify\nreplace: mail\nmail: bob.b@example.test\n' "$SLAPD_PEOPLE" |
    ldap_admin_modify >/dev/null
unhealthy_crl() {
	get GET /healthz && status_is 503 && grep -q '^no CRL: ' "$BODY" &&
	    grep -q '^a revocation has waited [0-9]*s for its CRL' "$BODY"
}
check "the CRL unwritable for more than 3 s: 503 naming both" cs_wait_for 30 unhealthy_crl
cat "$BODY"
check "GET /ca.crl: 503 while it cannot be read" sh -c "test \"\$(BODY='$BODY' python3 '$T/http.py' req 127.0.0.1 $PORT GET /ca.crl | head -n 1)\" = 503"
rm "$T/crl"
mv "$T/crl.real" "$T/crl"
ldap_add_user carol carol@example.test "Carol Example" Carol Example	# wakes the runner
check "the CRL written again: 200 ok" cs_wait_for 40 healthy
check "... and served again" cs_wait_for 10 crl_file_is_served

echo "# nothing else is served"
for p in / /ca.crl.pem /metrics/x /METRICS /healthz/ /..%2fstate.db /../state.db //ca.crl; do
	check "GET $p: 404" test "$(answer GET "$p")" = 404
done
for m in POST PUT DELETE OPTIONS TRACE PATCH CONNECT FOO; do
	check "$m /metrics: 405" test "$(answer "$m" /metrics)" = 405
done
check "... with Allow: GET, HEAD" header_is allow "GET, HEAD"
get GET '/ca.crl?x=1'
check "a query is ignored: /ca.crl?x=1 is the CRL" status_is 200

echo "# hostile clients"
raw() { printf "$1" > "$T/raw.bin"; python3 "$T/http.py" raw 127.0.0.1 "$PORT" "$T/raw.bin"; }
is_4xx_or_closed() { echo "answer: $1"; case "$1" in 4??|closed) return 0 ;; *) return 1 ;; esac; }
# hostile WHAT ANSWER: the answer must be 4xx or a closed connection.
hostile() { echo "#   $1: $2"; check "$1: 4xx or closed" is_4xx_or_closed "$2"; }
python3 -c 'import sys; sys.stdout.write("GET /" + "a" * 100000 + " HTTP/1.1\r\nHost: x\r\n\r\n")' > "$T/long.bin"
hostile "a 100 KB request line" "$(python3 "$T/http.py" raw 127.0.0.1 "$PORT" "$T/long.bin")"
python3 -c 'import sys; sys.stdout.write("GET /metrics HTTP/1.1\r\n" + "X-H: v\r\n" * 10000 + "\r\n")' > "$T/flood.bin"
hostile "10000 headers" "$(python3 "$T/http.py" raw 127.0.0.1 "$PORT" "$T/flood.bin")"
hostile "NULs in the request line" "$(raw 'GET /met\000rics HTTP/1.1\r\nHost: x\r\n\r\n')"
hostile "binary garbage" "$(raw '\377\376\001\002garbage\r\n\r\n')"
hostile "no version" "$(raw 'GET /metrics\r\n\r\n')"
hostile "HTTP/9.9" "$(raw 'GET /metrics HTTP/9.9\r\nHost: x\r\n\r\n')"
hostile "a header without a colon" "$(raw 'GET /metrics HTTP/1.1\r\nnocolon\r\n\r\n')"
hostile "a 1 MB body" "$(raw 'POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\nxxxx')"
hostile "a negative Content-Length" "$(raw 'POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n')"
python3 "$T/http.py" fuzz 127.0.0.1 "$PORT" 300 "$$" > "$T/fuzz.out"
fuzz_ok() { ! grep -Eqv '^(2..|304|4..|closed)$' "$T/fuzz.out"; }
echo "#   300 mutated requests, answers: $(sort "$T/fuzz.out" | uniq -c | awk '{ printf "%s %s, ", $2, $1 }')"
check "300 mutated requests: each 2xx, 304, 4xx or closed, never 5xx" fuzz_ok
check "the agent is still running" kill -0 "$AGENT_PID"
closed_in() { # N SECONDS PREFIX: all N closed within SECONDS
	got=$(python3 "$T/http.py" idle 127.0.0.1 "$PORT" "$1" "$2" "$3"); echo "$got of $1 closed"
	[ "$got" -eq "$1" ]
}
check "a half-sent request is closed within timeout (2 s) + 3 s" closed_in 1 5 'GET /metrics HTTP/1.1\r\nHost: x\r\n'
check "a silent connection too" closed_in 1 5 ''
check "100 half-sent requests at once, all closed in time" closed_in 100 6 'GET /healthz HTTP/1.1\r\n'
check "and the agent still answers" healthy

echo "# IPv6, a taken port, a path that is the listener's"
check "GET /healthz on [::1]: 200" sh -c "python3 '$T/http.py' req ::1 $PORT6 GET /healthz | head -n 1 | grep -qx 200"
check_exit 69 "a second certsyncd on the same port exits 69" "$CS_BUILDDIR/certsyncd" -c "$CONF" --once
last_says "^certsyncd: error: \\[http\\] listen 127\\.0\\.0\\.1:$PORT: cannot listen: Address already in use\$" "... with one line naming [http] listen"
sed 's|^crl_url = .*|crl_url = http://pki.example.test/metrics|' "$CONF" > "$T/bad.conf"
check_exit 78 "crl_url with the path /metrics: refused at load" "$CS_BUILDDIR/certsyncd" -c "$T/bad.conf" --once
last_says '\[certificates\] crl_url: its path /metrics is the HTTP listener' "... naming [certificates] crl_url"
cs_agent_stop
cs_done
