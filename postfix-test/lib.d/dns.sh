# shellcheck shell=bash
# Part of postfix-test/lib.sh (sourced by it): the lab's DNS.  NSD serves the
# zones of postfix-test/dns/ (or another directory); Unbound is a local
# recursive resolver in front of it; blackhole.py a nameserver that never
# answers.

# nsd_start PORT [ZONE_SRC_DIR [NODATA_ZONE...]]: serve every *.zone in
# ZONE_SRC_DIR (default postfix-test/dns) from $LAB/dns, zone name = file name
# without ".zone".  Each NODATA_ZONE is configured with a zone file that does
# not exist: NSD 4.6 logs an error and answers SERVFAIL for it (a primary
# whose data failed to load).
nsd_start() {
    local port=$1 src=${2:-$LAB_LIB_DIR/dns} dir=$LAB/dns z name pid i
    shift $(($# < 2 ? $# : 2))
    lab_require_free_port "$port" nsd
    mkdir -p "$dir"
    {
        cat <<EOF
server:
    ip-address: 127.0.0.1@$port
    port: $port
    do-ip4: yes
    do-ip6: no
    username: ""
    chroot: ""
    zonesdir: "$dir"
    database: ""
    pidfile: "$dir/nsd.pid"
    xfrdfile: "$dir/xfrd.state"
    zonelistfile: "$dir/zone.list"
    logfile: "$dir/nsd.log"
    server-count: 1
    verbosity: 1
    hide-version: yes
    # Response rate limiting drops/truncates answers under load: off in the lab.
    rrl-ratelimit: 0
remote-control:
    control-enable: no
EOF
        for z in "$src"/*.zone; do
            name=$(basename "$z" .zone)
            cp "$z" "$dir/$name.zone"
            printf 'zone:\n    name: "%s"\n    zonefile: "%s.zone"\n' "$name" "$name"
        done
        for name in "$@"; do
            printf 'zone:\n    name: "%s"\n    zonefile: "%s.nodata"\n' "$name" "$name"
        done
    } >"$dir/nsd.conf"
    nsd-checkconf "$dir/nsd.conf" || lab_die "nsd-checkconf failed for $dir/nsd.conf"
    for z in "$dir"/*.zone; do
        nsd-checkzone "$(basename "$z" .zone)" "$z" >/dev/null || lab_die "bad zone file $z"
    done
    nsd -c "$dir/nsd.conf" || { cat "$dir/nsd.log" >&2 2>/dev/null; lab_die "nsd failed to start"; }
    LAB_NSD_PIDFILE=$dir/nsd.pid
    lab_add_log "$dir/nsd.log"
    for ((i = 0; i < 50; i++)); do
        [[ -s "$LAB_NSD_PIDFILE" ]] && break
        sleep 0.1
    done
    pid=$(head -n1 "$LAB_NSD_PIDFILE" 2>/dev/null)
    [[ "$pid" =~ ^[0-9]+$ ]] || lab_die "nsd wrote no pid file"
    lab_register_pid "$pid" nsd
    lab_wait_port "$port" 50 "$pid" || { cat "$dir/nsd.log" >&2; lab_die "nsd not listening"; }
}

# nsd_stop: stop the NSD started by nsd_start (also done by lab_cleanup).
nsd_stop() {
    local pid
    [[ -n "$LAB_NSD_PIDFILE" && -s "$LAB_NSD_PIDFILE" ]] || return 0
    pid=$(head -n1 "$LAB_NSD_PIDFILE")
    lab_stop_pid "$pid" nsd
}

# nsd_expect PORT TYPE NAME PATTERN: die unless the answer of the server on
# 127.0.0.1:PORT for NAME/TYPE matches the glob PATTERN (the zones loaded).
# shellcheck disable=SC2053  # PATTERN is a glob
nsd_expect() {
    [[ "$(dig @127.0.0.1 -p "$1" +short +time=2 +tries=1 "$2" "$3")" == $4 ]] ||
        lab_die "NSD does not answer $2 $3"
}

# ------------------------------------------------------------- Unbound -------
# A local recursive resolver, as mail admins run one: authsense asks Unbound,
# Unbound asks the lab's authoritative servers through stub zones.

LAB_UNBOUND_CONF=""  # set by unbound_start
UNBOUND_PID=""       # set by unbound_start

# unbound_start PORT CONTROL_PORT ZONE=IP@PORT...: Unbound on 127.0.0.1:PORT
# (UDP and TCP; iterator only, no DNSSEC validation) that resolves only the
# given stub zones, each from the server at IP@PORT.  Every other name is
# answered REFUSED (local-zone "." refuse), so nothing leaves the machine;
# Unbound's built-in local zones (localhost, 127.in-addr.arpa) still answer.
# Remote control on 127.0.0.1:CONTROL_PORT without certificates, for
# unbound_stat.  Queries are logged to $LAB/unbound/unbound.log.
unbound_start() {
    local port=$1 cport=$2 dir=$LAB/unbound stub zone
    shift 2
    lab_require_free_port "$port" unbound
    lab_require_free_port "$cport" unbound-control
    mkdir -p "$dir"
    LAB_UNBOUND_CONF=$dir/unbound.conf
    {
        cat <<EOC
server:
    interface: 127.0.0.1@$port
    port: $port
    do-ip4: yes
    do-ip6: no
    do-udp: yes
    do-tcp: yes
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "$dir"
    pidfile: "$dir/unbound.pid"
    logfile: "$dir/unbound.log"
    use-syslog: no
    verbosity: 1
    log-queries: yes
    module-config: "iterator"
    # The stubs live on 127.0.0.1, which Unbound refuses to query by default.
    do-not-query-localhost: no
    # num.query.tcp and friends (unbound_stat).
    extended-statistics: yes
    local-zone: "." refuse
remote-control:
    control-enable: yes
    control-interface: 127.0.0.1
    control-port: $cport
    control-use-cert: no
EOC
        for stub in "$@"; do
            zone=${stub%%=*}
            # The closest local zone decides: "transparent" lets the stub's
            # names through the "." refuse (and through the built-in "test.").
            printf 'server:\n    local-zone: "%s." transparent\n' "$zone"
            printf 'stub-zone:\n    name: "%s."\n    stub-addr: %s\n' "$zone" "${stub#*=}"
        done
    } >"$LAB_UNBOUND_CONF"
    unbound-checkconf "$LAB_UNBOUND_CONF" >"$dir/checkconf.log" 2>&1 ||
        { cat "$dir/checkconf.log" >&2; lab_die "unbound-checkconf failed for $LAB_UNBOUND_CONF"; }
    unbound -d -c "$LAB_UNBOUND_CONF" >"$dir/unbound.out" 2>&1 </dev/null &
    UNBOUND_PID=$!
    lab_register_pid "$UNBOUND_PID" unbound
    lab_add_log "$dir/unbound.log"
    lab_add_log "$dir/unbound.out"
    lab_wait_port "$port" 50 "$UNBOUND_PID" ||
        { cat "$dir/unbound.out" "$dir/unbound.log" >&2 2>/dev/null; lab_die "unbound not listening"; }
}

# unbound_stop: stop the Unbound started by unbound_start (also done by lab_cleanup).
unbound_stop() {
    [[ -n "$UNBOUND_PID" ]] && lab_stop_pid "$UNBOUND_PID" unbound
}

# unbound_stat NAME: print one counter of "unbound-control stats_noreset"
# (e.g. num.query.tcp: queries Unbound received over TCP), or nothing.
unbound_stat() {
    timeout 10 unbound-control -c "$LAB_UNBOUND_CONF" stats_noreset 2>/dev/null |
        awk -F= -v k="$1" '$1 == k { print $2; exit }'
}

# blackhole_start PORT: a "nameserver" on 127.0.0.1:PORT that reads every UDP
# datagram and every TCP connection and never answers (postfix-test/blackhole.py;
# it exits by itself after 15 minutes).  Sets BLACKHOLE_PID.
blackhole_start() {
    local port=$1
    lab_require_free_port "$port" blackhole
    /usr/bin/python3 "$LAB_LIB_DIR/blackhole.py" "$port" 900 >"$LAB/blackhole-$port.log" 2>&1 </dev/null &
    BLACKHOLE_PID=$!
    lab_register_pid "$BLACKHOLE_PID" blackhole
    lab_add_log "$LAB/blackhole-$port.log"
    lab_wait_port "$port" 50 "$BLACKHOLE_PID" ||
        { cat "$LAB/blackhole-$port.log" >&2; lab_die "blackhole not listening on 127.0.0.1:$port"; }
}
