# SPDX-License-Identifier: GPL-3.0-or-later
# shellcheck shell=bash
#
# bench/lib.sh: what bench/milter and bench/milter-direct share — a private
# network namespace with its own resolver, the DNS zone with a DKIM key and
# a DMARC record, one signed test message, and the milters under test:
# authsense (SPF only, and SPF+DKIM+DMARC+ARC) and the peers glts spf-milter,
# Debian's pyspf-milter and OpenDMARC.  Sourced after postfix-test/lib.sh.
#
# Why a namespace: the peers have no "use this DNS server and port" knob;
# they read /etc/resolv.conf.  `unshare --net --mount` gives the benchmark its
# own loopback (nothing else on the machine can disturb or be disturbed by
# its ports) and a private bind-mount of /etc/resolv.conf pointing at NSD on
# 127.0.0.1:53, so every milter queries the same NSD.  The host's
# /etc/resolv.conf is untouched.

# shellcheck disable=SC2034 # used by the scripts that source this file
BENCH_AUTHSERV_ID=mx.lab.test
BENCH_HELO=mail.pass.lab.test   # v=spf1 ip4:127.0.0.0/8 -all
BENCH_SENDER=user@pass.lab.test # pass.lab.test: the same, + DKIM key + DMARC p=none
BENCH_RCPT=rcpt@dest.lab.test
BENCH_SELECTOR=bench
BENCH_SPF_MILTER=${BENCH_SPF_MILTER:-$REPO/target/bench-peers/bin/spf-milter}
declare -A BENCH_PID=() BENCH_CMD=() BENCH_SPEC=()

# bench_enter_netns "$0" "$@": re-run the calling script in a new network and
# mount namespace (once); inside, bring lo up.  Call before anything else.
bench_enter_netns() {
    if [[ -z "${BENCH_IN_NETNS:-}" ]]; then
        [[ $(id -u) -eq 0 ]] || { echo "$1: must run as root (namespaces, private Postfix)" >&2; exit 1; }
        bench_need_peers # outside: the namespace has no route to the package mirrors
        exec unshare --net --mount --propagation private env BENCH_IN_NETNS=1 "$@"
    fi
    ip link set lo up || { echo "bench: cannot bring up lo in the namespace" >&2; exit 1; }
}

# bench_dns: NSD on 127.0.0.1:53 (in the namespace) serving lab.test with a
# fresh DKIM key (selector bench) and _dmarc for pass.lab.test; resolv.conf
# bind-mounted to point at it.  Makes $LAB/msg.eml, a ~1 KB DKIM-signed
# message (relaxed/relaxed, d=pass.lab.test) from BENCH_SENDER.
bench_dns() {
    local z=$LAB/zones txt i
    mkdir -p "$z" "$LAB/dkim"
    (cd "$LAB/dkim" && dknewkey "$BENCH_SELECTOR" >dknewkey.log 2>&1) || lab_die "dknewkey failed"
    txt=$(tr -d '\n' <"$LAB/dkim/$BENCH_SELECTOR.dns")
    [[ "$txt" == v=DKIM1*p=?* ]] || lab_die "dknewkey: unexpected $LAB/dkim/$BENCH_SELECTOR.dns"
    cp "$REPO/postfix-test/dns/lab.test.zone" "$z/lab.test.zone"
    {
        printf '\n; added by bench/lib.sh\n'
        printf '%s._domainkey.pass IN TXT (' "$BENCH_SELECTOR"
        for ((i = 0; i < ${#txt}; i += 200)); do printf ' "%s"' "${txt:i:200}"; done
        printf ' )\n'
        printf '_dmarc.pass IN TXT "v=DMARC1; p=none"\n'
    } >>"$z/lab.test.zone"
    nsd_start 53 "$z"
    printf 'nameserver 127.0.0.1\noptions attempts:1 timeout:2\n' >"$LAB/resolv.conf"
    mount --bind "$LAB/resolv.conf" /etc/resolv.conf || lab_die "cannot bind-mount resolv.conf"
    [[ "$(dig +short +time=2 +tries=1 TXT "$BENCH_SELECTOR._domainkey.pass.lab.test")" == *DKIM1* ]] ||
        lab_die "NSD does not answer the DKIM key through resolv.conf"
    bench_message >"$LAB/msg.unsigned"
    dkimsign --hcanon relaxed --bcanon relaxed "$BENCH_SELECTOR" pass.lab.test \
        "$LAB/dkim/$BENCH_SELECTOR.key" <"$LAB/msg.unsigned" >"$LAB/msg.eml" 2>"$LAB/dkimsign.err" ||
        lab_die "dkimsign failed: $(cat "$LAB/dkimsign.err")"
    grep -q '^DKIM-Signature:' "$LAB/msg.eml" || lab_die "dkimsign did not sign: $(cat "$LAB/dkimsign.err")"
}

bench_message() {
    local i
    printf 'From: Bench <%s>\nTo: <%s>\nSubject: authsense benchmark\n' "$BENCH_SENDER" "$BENCH_RCPT"
    printf 'Date: Sat, 28 Nov 2026 00:00:00 +0000\nMessage-ID: <bench@pass.lab.test>\n'
    printf 'MIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\n'
    for ((i = 0; i < 12; i++)); do
        printf 'Benchmark line %02d: the quick brown fox jumps over the lazy dog.\n' "$i"
    done
}

# bench_wait_listen NAME SPEC PID LOG: wait until SPEC (inet:127.0.0.1:PORT or
# unix:PATH) accepts, or die with the log.
bench_wait_listen() {
    local name=$1 spec=$2 pid=$3 log=$4 i
    for ((i = 0; i < 150; i++)); do
        if [[ "$spec" == unix:* ]]; then
            [[ -S "${spec#unix:}" ]] && return 0
        else
            lab_port_open "${spec##*:}" && return 0
        fi
        lab_pid_alive "$pid" || break
        sleep 0.1
    done
    tail -n 20 "$log" >&2
    lab_die "$name did not listen on $spec"
}

# bench_register NAME PID SPEC CMD
bench_register() {
    lab_register_pid "$2" "$1"
    BENCH_PID[$1]=$2
    BENCH_SPEC[$1]=$3
    BENCH_CMD[$1]=$4
}

# bench_authsense NAME SPEC spf|full [BIN]: authsense milter; "full" puts
# spf, dkim, dmarc and arc in the stamp and adds Authentication-Results.
bench_authsense() {
    local name=$1 spec=$2 kind=$3 bin=${4:-$AUTHSENSE_BIN} cfg=$LAB/$1.toml log=$LAB/$1.log
    {
        printf '[milter]\nlisten = "%s"\nsocket_mode = "0666"\nauthserv_id = "%s"\n' "$spec" "$BENCH_AUTHSERV_ID"
        if [[ "$kind" == full ]]; then
            printf 'methods = ["spf", "dkim", "dmarc", "arc"]\nadd_authentication_results = true\n'
        else
            printf 'methods = ["spf"]\nadd_authentication_results = false\n'
        fi
        printf '[dns]\nnameservers = ["127.0.0.1:53"]\n'
    } >"$cfg"
    [[ -x "$bin" ]] || lab_die "no authsense binary at $bin"
    NO_COLOR=1 RUST_LOG=warn "$bin" milter --config "$cfg" >"$log" 2>&1 &
    bench_register "$name" $! "$spec" "$bin milter --config $name.toml   # $(tr '\n' ' ' <"$cfg")"
    bench_wait_listen "$name" "$spec" $! "$log"
}

# bench_null NAME SPEC authsense|none [FLAG...]: examples/null_milter (built by
# `cargo build --release --example null_milter` when missing), the do-nothing
# milter that measures the milter protocol's own cost in Postfix.
bench_null() {
    local name=$1 spec=$2 events=$3 log=$LAB/$1.log bin=${BENCH_NULL_BIN:-$REPO/target/release/examples/null_milter}
    shift 3
    if [[ ! -x "$bin" ]]; then
        (cd "$REPO" && cargo build --release --quiet --example null_milter) || lab_die "cannot build null_milter"
    fi
    "$bin" --listen "$spec" --events "$events" "$@" >"$log" 2>&1 &
    bench_register "$name" $! "$spec" "null_milter --listen $spec --events $events $*"
    bench_wait_listen "$name" "$spec" $! "$log"
}

# bench_spf_milter NAME SPEC: glts spf-milter (Rust, viaspf), installed into
# target/bench-peers by `cargo install` when missing.
bench_spf_milter() {
    local name=$1 spec=$2 cfg=$LAB/$1.conf log=$LAB/$1.log sock
    sock=$spec
    [[ "$spec" == inet:* ]] && sock="inet:127.0.0.1:${spec##*:}"
    cat >"$cfg" <<EOF
socket = $sock
hostname = $BENCH_AUTHSERV_ID
trusted_networks =
header = Authentication-Results
authserv_id = $BENCH_AUTHSERV_ID
reject_results =
reject_helo_results =
log_destination = stderr
log_level = warn
EOF
    (umask 000 && exec "$BENCH_SPF_MILTER" --config-file "$cfg") >"$log" 2>&1 &
    bench_register "$name" $! "$spec" "spf-milter --config-file $name.conf   # $(grep -v '^#' "$cfg" | tr '\n' ';')"
    bench_wait_listen "$name" "$spec" $! "$log"
}

# bench_pyspf NAME SPEC: Debian's pyspf-milter (python3-spf-engine, libmilter
# through python3-milter).  Its defaults skip 127.0.0.0/8 and internal hosts:
# both are set to a documentation address so it evaluates our clients.
bench_pyspf() {
    local name=$1 spec=$2 cfg=$LAB/$1.conf log=$LAB/$1.log sock dir=$LAB/$1.d
    mkdir -p "$dir"
    chown pyspf-milter "$dir"
    sock="local:$dir/sock"
    [[ "$spec" == inet:* ]] && sock="inet:${spec##*:}@127.0.0.1"
    [[ "$spec" == unix:* ]] && spec="unix:$dir/sock"
    cat >"$cfg" <<EOF
debugLevel = 0
TestOnly = 1
HELO_reject = Fail
Mail_From_reject = Fail
PermError_reject = False
TempError_Defer = False
skip_addresses = 192.0.2.255/32
InternalHosts = 192.0.2.254
Authserv_Id = $BENCH_AUTHSERV_ID
Socket = $sock
PidFile = $dir/pid
UserID = pyspf-milter
UMask = 0
EOF
    /usr/bin/pyspf-milter "$cfg" >"$log" 2>&1 &
    bench_register "$name" $! "$spec" "pyspf-milter $name.conf   # $(tr '\n' ';' <"$cfg")"
    bench_wait_listen "$name" "$spec" $! "$log"
}

# bench_opendmarc NAME SPEC: Debian's OpenDMARC, validating SPF itself.
bench_opendmarc() {
    local name=$1 spec=$2 cfg=$LAB/$1.conf log=$LAB/$1.log sock dir=$LAB/$1.d
    mkdir -p "$dir"
    chown opendmarc "$dir"
    sock="local:$dir/sock"
    [[ "$spec" == inet:* ]] && sock="inet:${spec##*:}@127.0.0.1"
    [[ "$spec" == unix:* ]] && spec="unix:$dir/sock"
    printf '192.0.2.254\n' >"$dir/ignore"
    cat >"$cfg" <<EOF
Socket $sock
AuthservID $BENCH_AUTHSERV_ID
SPFSelfValidate true
SPFIgnoreResults true
IgnoreHosts $dir/ignore
IgnoreAuthenticatedClients true
RejectFailures false
FailureReports false
Syslog false
PidFile $dir/pid
UserID opendmarc
UMask 000
EOF
    /usr/sbin/opendmarc -f -c "$cfg" >"$log" 2>&1 &
    bench_register "$name" $! "$spec" "opendmarc -f -c $name.conf   # $(tr '\n' ';' <"$cfg")"
    bench_wait_listen "$name" "$spec" $! "$log"
}

# bench_need_peers: install what the peers need (apt-get; cargo install).
bench_need_peers() {
    local pkgs=() p
    for p in pyspf-milter opendmarc python3-dkim bind9-dnsutils nsd postfix; do
        dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || pkgs+=("$p")
    done
    if ((${#pkgs[@]})); then
        lab_log "installing ${pkgs[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${pkgs[@]}" >/dev/null ||
            { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${pkgs[@]}" >/dev/null; } ||
            lab_die "apt-get install ${pkgs[*]} failed"
    fi
    if [[ ! -x "$BENCH_SPF_MILTER" ]]; then
        lab_log "cargo install spf-milter (a benchmark peer only; GPL-3.0) into target/bench-peers"
        cargo install --quiet spf-milter --version '^0.6' --root "$REPO/target/bench-peers" ||
            lab_die "cargo install spf-milter failed"
    fi
}

