# shellcheck shell=bash
# Sourceable helpers for the authsense Postfix/NSD lab tests.
#
#   source "$(dirname "$0")/lib.sh"
#   lab_init                      # scratch dir in $LAB, EXIT trap that stops everything
#   nsd_start 15353               # zones from postfix-test/dns/
#   sink_start 12527 "$LAB/sink" sink.lab.test
#   postfix_write_config "$LAB/pf" 12525 18891 12527
#   postfix_start "$LAB/pf"
#   ...
#
# Everything listens on 127.0.0.1 only.  Every wait loop is bounded.  Every
# process that is started is recorded and stopped by PID from the EXIT trap
# (lab_cleanup); nothing is killed by name.  Set LAB_KEEP=1 to keep $LAB.

LAB_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB=${LAB:-}
LAB_PIDS=()      # "pid:name" of background processes, stopped in reverse order
LAB_PF_BASES=()  # Postfix instances started (stopped with postfix -c ... stop)
LAB_NSD_PIDFILE=""
LAB_PG_DIRS=()   # private PostgreSQL clusters (stopped with postfix-test/pg stop)

lab_log() { printf '%s\n' "lab: $*" >&2; }
# lab_die MSG: log, call the script's lab_on_die hook if it defines one, exit 1.
lab_die() {
    lab_log "FATAL: $*"
    if declare -F lab_on_die >/dev/null; then lab_on_die "$*"; fi
    exit 1
}

# lab_init: make the scratch directory and install the EXIT trap.
lab_init() {
    LAB=$(mktemp -d "${TMPDIR:-/tmp}/authsense-lab.XXXXXX") || lab_die "mktemp failed"
    # Postfix (user postfix) and smtp-sink (user nobody) must traverse it.
    chmod 755 "$LAB"
    trap lab_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# lab_register_pid PID NAME: stop PID at cleanup.
lab_register_pid() { LAB_PIDS+=("$1:$2"); }

# lab_pid_alive PID
lab_pid_alive() { kill -0 "$1" 2>/dev/null; }

# lab_stop_pid PID NAME [GRACE_TENTHS]: SIGTERM, wait (bounded), then SIGKILL.
lab_stop_pid() {
    local pid=$1 name=$2 grace=${3:-50} i
    lab_pid_alive "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < grace; i++)); do
        lab_pid_alive "$pid" || return 0
        sleep 0.1
    done
    lab_log "$name (pid $pid) ignored SIGTERM for $((grace / 10))s; SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 20; i++)); do
        lab_pid_alive "$pid" || return 0
        sleep 0.1
    done
}

# lab_cleanup: EXIT trap.  Stops Postfix instances, then every registered PID.
lab_cleanup() {
    local rc=$? base i entry
    trap - EXIT INT TERM
    set +e
    for base in "${LAB_PF_BASES[@]}"; do
        postfix_stop "$base"
    done
    for ((i = ${#LAB_PIDS[@]} - 1; i >= 0; i--)); do
        entry=${LAB_PIDS[i]}
        lab_stop_pid "${entry%%:*}" "${entry#*:}"
    done
    LAB_PIDS=()
    for base in "${LAB_PG_DIRS[@]}"; do
        "$LAB_LIB_DIR/pg" stop "$base"
    done
    if [[ -n "$LAB" && -d "$LAB" ]]; then
        if [[ "${LAB_KEEP:-0}" == 1 ]]; then
            lab_log "kept scratch dir $LAB"
        else
            rm -rf -- "$LAB"
        fi
    fi
    exit "$rc"
}

# lab_port_open PORT: true if something accepts TCP connections on 127.0.0.1:PORT.
lab_port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# lab_require_free_port PORT NAME
lab_require_free_port() {
    if lab_port_open "$1"; then
        lab_die "127.0.0.1:$1 (for $2) is already in use; set another port"
    fi
}

# lab_wait_port PORT [TIMEOUT_TENTHS] [PID]: wait until 127.0.0.1:PORT accepts
# TCP connections.  Fails early if PID (the process that should listen) dies.
lab_wait_port() {
    local port=$1 tries=${2:-100} pid=${3:-} i
    for ((i = 0; i < tries; i++)); do
        lab_port_open "$port" && return 0
        if [[ -n "$pid" ]] && ! lab_pid_alive "$pid"; then
            lab_log "process $pid exited before listening on 127.0.0.1:$port"
            return 1
        fi
        sleep 0.1
    done
    lab_log "timeout: nothing listening on 127.0.0.1:$port after $((tries / 10))s"
    return 1
}

# ---------------------------------------------------------------- NSD --------

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

# ------------------------------------------------------------ smtp-sink ------

# sink_start PORT DUMPDIR GREETING_NAME: smtp-sink dumping one file per message.
# Sets SINK_PID.  The greeting name must differ from Postfix's myhostname.
sink_start() {
    local port=$1 dump=$2 name=$3
    lab_require_free_port "$port" smtp-sink
    mkdir -p "$dump"
    chown nobody "$dump"
    /usr/sbin/smtp-sink -u nobody -h "$name" -d "$dump/%Y%m%d%H%M%S." \
        "127.0.0.1:$port" 256 >"$LAB/sink-$port.log" 2>&1 &
    SINK_PID=$!
    lab_register_pid "$SINK_PID" smtp-sink
    lab_wait_port "$port" 50 "$SINK_PID" || { cat "$LAB/sink-$port.log" >&2; lab_die "smtp-sink not listening"; }
}

# -------------------------------------------------------------- Postfix ------

# postfix_write_config BASE SMTP_PORT MILTER_PORT SINK_PORT [MYHOSTNAME]
# Private Postfix instance: smtpd on 127.0.0.1:SMTP_PORT with the milter at
# inet:127.0.0.1:MILTER_PORT (tempfail if it is down), everything relayed to
# the smtp-sink at [127.0.0.1]:SINK_PORT.  Config in BASE/conf, log in BASE/maillog.
postfix_write_config() {
    local base=$1 smtp_port=$2 milter_port=$3 sink_port=$4 host=${5:-mta.lab.test}
    mkdir -p "$base/conf" "$base/queue" "$base/data"
    chown root:root "$base" "$base/conf" "$base/queue"
    chown postfix:postfix "$base/data"
    cat >"$base/conf/main.cf" <<EOF
# Generated by postfix-test/lib.sh (postfix_write_config) -- private lab instance
compatibility_level = 3.6
queue_directory = $base/queue
data_directory = $base/data
mail_owner = postfix
setgid_group = postdrop
myhostname = $host
mydomain = lab.test
myorigin = \$myhostname
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
relay_domains =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
biff = no
maillog_file = $base/maillog
maillog_file_prefixes = /var, /dev/stdout, $base
smtp_dns_support_level = disabled
smtp_host_lookup = native
smtpd_peername_lookup = no
smtpd_tls_security_level = none
smtp_tls_security_level = none
default_transport = smtp:[127.0.0.1]:$sink_port
relay_transport = \$default_transport
smtpd_milters = inet:127.0.0.1:$milter_port
milter_default_action = tempfail
milter_connect_timeout = 10s
milter_command_timeout = 20s
milter_content_timeout = 30s
queue_run_delay = 5s
minimal_backoff_time = 5s
maximal_backoff_time = 10s
delay_warning_time = 0
EOF
    cat >"$base/conf/master.cf" <<EOF
# Generated by postfix-test/lib.sh -- chroot is off everywhere (column 5 = n)
127.0.0.1:$smtp_port inet n - n - - smtpd
pickup    unix  n  -  n  60  1  pickup
cleanup   unix  n  -  n  -   0  cleanup
qmgr      unix  n  -  n  300 1  qmgr
rewrite   unix  -  -  n  -   -  trivial-rewrite
bounce    unix  -  -  n  -   0  bounce
defer     unix  -  -  n  -   0  bounce
trace     unix  -  -  n  -   0  bounce
verify    unix  -  -  n  -   1  verify
flush     unix  n  -  n  1000? 0 flush
proxymap  unix  -  -  n  -   -  proxymap
smtp      unix  -  -  n  -   -  smtp
relay     unix  -  -  n  -   -  smtp
showq     unix  n  -  n  -   -  showq
error     unix  -  -  n  -   -  error
retry     unix  -  -  n  -   -  error
discard   unix  -  -  n  -   -  discard
anvil     unix  -  -  n  -   1  anvil
scache    unix  -  -  n  -   1  scache
postlog   unix-dgram n - n - 1  postlogd
EOF
}

# postfix_ctl BASE CMD: run "postfix -c BASE/conf CMD" under script(1), because
# postfix reports fatal errors only to syslog unless stderr is a tty.
postfix_ctl() {
    local base=$1 cmd=$2 out rc
    out=$(script -qec "postfix -c $(printf %q "$base/conf") $cmd" /dev/null 2>&1)
    rc=$?
    printf '%s\n' "$out" | tr -d '\r' >>"$base/ctl.log"
    if [[ $rc -ne 0 ]]; then
        lab_log "postfix $cmd failed (rc=$rc):"
        printf '%s\n' "$out" | tr -d '\r' >&2
        [[ -f "$base/maillog" ]] && tail -n 20 "$base/maillog" >&2
    fi
    return $rc
}

# postfix_master_pid BASE: print the master PID if it is running.
postfix_master_pid() {
    local f=$1/queue/pid/master.pid pid
    [[ -s "$f" ]] || return 1
    pid=$(tr -dc '0-9' <"$f")
    [[ -n "$pid" ]] && lab_pid_alive "$pid" && printf '%s\n' "$pid"
}

# postfix_start BASE: check, start, wait for the smtpd port (read from master.cf).
postfix_start() {
    local base=$1 port
    port=$(awk '$2 == "inet" && $8 == "smtpd" { n = split($1, a, ":"); print a[n]; exit }' "$base/conf/master.cf")
    [[ -n "$port" ]] && lab_require_free_port "$port" postfix
    postfix_ctl "$base" check || lab_die "postfix check failed for $base"
    LAB_PF_BASES+=("$base")
    postfix_ctl "$base" start || lab_die "postfix start failed for $base"
    if [[ -n "$port" ]]; then
        lab_wait_port "$port" 100 || lab_die "postfix smtpd not listening on $port"
    fi
}

# postfix_stop BASE: "postfix stop", wait for master to exit (bounded), then
# SIGKILL it by PID if needed.
postfix_stop() {
    local base=$1 pid i
    pid=$(postfix_master_pid "$base") || return 0
    postfix_ctl "$base" stop >/dev/null 2>&1 || true
    for ((i = 0; i < 50; i++)); do
        lab_pid_alive "$pid" || return 0
        sleep 0.1
    done
    lab_stop_pid "$pid" postfix-master 10
}

# postfix_queue_empty BASE
postfix_queue_empty() {
    [[ -z "$(postqueue -c "$1/conf" -j 2>/dev/null)" ]]
}

# postfix_wait_queue_empty BASE [TIMEOUT_TENTHS]
postfix_wait_queue_empty() {
    local base=$1 tries=${2:-200} i
    for ((i = 0; i < tries; i++)); do
        postfix_queue_empty "$base" && return 0
        sleep 0.1
    done
    lab_log "timeout: Postfix queue in $base not empty after $((tries / 10))s:"
    postqueue -c "$base/conf" -p >&2 2>&1 || true
    return 1
}

# postfix_add_mailboxes BASE DOMAIN USER...: append virtual(8) Maildir delivery
# for USER@DOMAIN to a config written by postfix_write_config.  Mail lands in
# BASE/mail/DOMAIN/USER/new/ (owned by postfix; no Unix users needed).
postfix_add_mailboxes() {
    local base=$1 domain=$2 u maps=""
    shift 2
    for u in "$@"; do maps+="${maps:+, }$u@$domain=$domain/$u/"; done
    mkdir -p "$base/mail"
    chown postfix:postfix "$base/mail"
    cat >>"$base/conf/main.cf" <<EOC
# --- Mailboxes: virtual(8) Maildir delivery (postfix_add_mailboxes)
virtual_mailbox_domains = $domain
virtual_mailbox_base = $base/mail
virtual_mailbox_maps = inline:{ $maps }
virtual_uid_maps = static:$(id -u postfix)
virtual_gid_maps = static:$(id -g postfix)
EOC
    printf '%s\n' "virtual   unix  -  n  n  -   -  virtual" >>"$base/conf/master.cf"
}

# postfix_add_dual_delivery BASE COPY_PORT SENSOR_PORT BLACKHOLE [COPY_NAME] [COPY_BIND] [SENSOR_TLS]
# Append the dual-delivery stream of the Proofpoint guide to a config written
# by postfix_write_config (see README.md, "e2e-sensor"):
#  1. recipient_bcc_maps adds, for every original recipient local@domain, a
#     copy recipient local=domain@sensor.test (NOTIFY=NEVER: no DSN to the
#     sender if the copy fails).  Mail to BLACKHOLE's domain is not copied.
#  2. transport_maps sends sensor.test to the "copy" transport, i.e. to a
#     second smtpd in the same instance, 127.0.0.1:COPY_PORT, which runs no
#     milter, greets as COPY_NAME (default copy.lab.test; it must differ from
#     myhostname, or the smtp client sees a mail loop) and uses its own
#     cleanup service "copycleanup".  With COPY_BIND (a loopback address such
#     as 127.0.0.2) the "copy" transport connects from there, so the copy
#     hop's Received: shows a client IP other than the original client's.
#  3. copycleanup rewrites the envelope only (the *_canonical_classes keep
#     the headers untouched): every envelope sender becomes BLACKHOLE (the
#     guide's "Assign Return Path") and local=domain@sensor.test becomes
#     local@domain again ("Use Original-Recipient Address").
#  4. that smtpd's content_filter sends the whole re-queued copy, all
#     recipients at once, through the "sensor" transport to
#     [127.0.0.1]:SENSOR_PORT (the guide's SMTP profile: host, port, timeout).
#     SENSOR_TLS, if given, is that transport's smtp_tls_security_level
#     (e.g. "encrypt": STARTTLS required, certificate not verified; the
#     guide's "Encrypting Messages to the Sensor").
#  5. BLACKHOLE's domain is delivered by discard(8), so a bounce of a copy
#     would be dropped, never returned to the original sender.
# The BCC and decoding regexps are files in BASE/conf (no $$ quoting needed).
postfix_add_dual_delivery() {
    local base=$1 copy_port=$2 sensor_port=$3 blackhole=$4 copy_name=${5:-copy.lab.test}
    local copy_bind=${6:-} sensor_tls=${7:-} bh_domain=${blackhole##*@} bh_re
    bh_re=${bh_domain//./\\.}
    cat >"$base/conf/sensor_bcc.regexp" <<EOC
# recipient_bcc_maps: one sensor copy recipient per original recipient, the
# original address encoded in the local part (local@domain -> local=domain@sensor.test).
# Mail to the black hole itself is not copied.
if !/@$bh_re\$/
/^(.+)@([^@]+)\$/	\${1}=\${2}@sensor.test
endif
EOC
    cat >"$base/conf/sensor_rcpt.regexp" <<EOC
# copycleanup recipient_canonical_maps (envelope only): decode the copy recipient
# back to the original recipient (the last "=" separates local part and domain).
/^(.*)=([^=@]+)@sensor\\.test\$/	\${1}@\${2}
EOC
    cat >>"$base/conf/main.cf" <<EOC
# --- Dual delivery to the sensor (postfix_add_dual_delivery)
recipient_bcc_maps = regexp:$base/conf/sensor_bcc.regexp
transport_maps = inline:{ sensor.test=copy:[127.0.0.1]:$copy_port, $bh_domain=discard: }
copy_destination_recipient_limit = 1000
sensor_destination_recipient_limit = 1000
EOC
    cat >>"$base/conf/master.cf" <<EOC
# --- Dual delivery to the sensor (postfix_add_dual_delivery)
# hop 1: the perimeter hands the BCC copies to its own second smtpd
copy      unix  -  -  n  -   -  smtp${copy_bind:+
  -o smtp_bind_address=$copy_bind}
# the copy's second queue entry: no milter (the stamp is already in the
# message), envelope rewritten by copycleanup, all of it sent to the sensor
127.0.0.1:$copy_port inet n - n - - smtpd
  -o myhostname=$copy_name
  -o smtpd_milters=
  -o smtpd_client_restrictions=permit_mynetworks,reject
  -o smtpd_relay_restrictions=permit_mynetworks,reject
  -o cleanup_service_name=copycleanup
  -o content_filter=sensor:[127.0.0.1]:$sensor_port
copycleanup unix n - n - 0 cleanup
  -o recipient_bcc_maps=
  -o always_bcc=
  -o sender_canonical_maps=static:$blackhole
  -o sender_canonical_classes=envelope_sender
  -o recipient_canonical_maps=regexp:$base/conf/sensor_rcpt.regexp
  -o recipient_canonical_classes=envelope_recipient
# hop 2: the sensor's SMTP profile (short connect timeout, like the guide's)
sensor    unix  -  -  n  -   -  smtp
  -o smtp_connect_timeout=5s${sensor_tls:+
  -o smtp_tls_security_level=$sensor_tls
  -o smtp_tls_loglevel=1}
EOC
    if [[ -n "$sensor_tls" ]]; then
        printf '%s\n' "tlsmgr    unix  -  -  n  1000? 1  tlsmgr" >>"$base/conf/master.cf"
    fi
}

# ------------------------------------------------------------- Sendmail ------
# Sendmail 8.17 beside Postfix: sendmail-bin conflicts with postfix in apt, so
# the .debs are only downloaded and extracted (never installed) into a cache.
# Runtime libraries and m4 come from install-deps.

SENDMAIL_CACHE=${SENDMAIL_CACHE:-/var/cache/authsense-lab/sendmail}
SENDMAIL_ROOT=""   # set by sendmail_fetch: the extracted tree
SENDMAIL_PID=""    # set by sendmail_start

# sendmail_fetch: make sure $SENDMAIL_CACHE/root holds the extracted Debian
# packages sendmail-bin, sendmail-base and sendmail-cf (apt-get download +
# dpkg-deb -x; nothing is installed).  Reuses the cache when it matches the
# apt candidate version (or when apt does not know the package any more).
# Sets SENDMAIL_ROOT.
sendmail_fetch() {
    local cache=$SENDMAIL_CACHE want have tmp d
    want=$(apt-cache policy sendmail-bin 2>/dev/null | awk '$1 == "Candidate:" { print $2 }')
    have=$(cat "$cache/version" 2>/dev/null || true)
    if [[ -x "$cache/root/usr/libexec/sendmail/sendmail" && -n "$have" &&
        (-z "$want" || "$want" == "(none)" || "$want" == "$have") ]]; then
        SENDMAIL_ROOT=$cache/root
        return 0
    fi
    if [[ -z "$want" || "$want" == "(none)" ]]; then
        apt-get update -qq >&2 || lab_die "apt-get update failed"
        want=$(apt-cache policy sendmail-bin 2>/dev/null | awk '$1 == "Candidate:" { print $2 }')
        [[ -n "$want" && "$want" != "(none)" ]] || lab_die "apt knows no sendmail-bin package"
    fi
    lab_log "fetching Sendmail $want into $cache (apt-get download + dpkg-deb -x)"
    mkdir -p "$cache"
    tmp=$(mktemp -d "$cache/.fetch.XXXXXX") || lab_die "mktemp in $cache failed"
    mkdir -p "$tmp/debs" "$tmp/root"
    chmod 755 "$tmp"
    # _apt must be able to write into the download directory (else apt warns).
    chown _apt "$tmp/debs" 2>/dev/null || true
    (cd "$tmp/debs" && apt-get download -qq sendmail-bin sendmail-base sendmail-cf) >&2 ||
        { rm -rf "$tmp"; lab_die "apt-get download sendmail-bin sendmail-base sendmail-cf failed"; }
    for d in "$tmp"/debs/*.deb; do
        dpkg-deb -x "$d" "$tmp/root" || { rm -rf "$tmp"; lab_die "dpkg-deb -x $d failed"; }
    done
    [[ -x "$tmp/root/usr/libexec/sendmail/sendmail" ]] ||
        { rm -rf "$tmp"; lab_die "no usr/libexec/sendmail/sendmail in the Sendmail packages"; }
    rm -rf "$cache/root" "$tmp/debs"
    mv "$tmp/root" "$cache/root"
    printf '%s\n' "$want" >"$cache/version"
    rmdir "$tmp" 2>/dev/null || rm -rf "$tmp"
    SENDMAIL_ROOT=$cache/root
}

# sendmail_write_config DIR SMTP_PORT MILTER_PORT SINK_PORT [SENSOR_PORT] [SENSOR_SENDER] [NAME]
# A private Sendmail MTA (needs SENDMAIL_ROOT from sendmail_fetch): listens on
# 127.0.0.1:SMTP_PORT, runs every message through the milter at
# inet:MILTER_PORT@127.0.0.1 (F=T: tempfail while the milter is down) and
# relays everything to the smtp-sink at [127.0.0.1]:SINK_PORT (SMART_HOST).
# With SENSOR_PORT, recipients in the domain sensor.test go through the
# mailertable to the "sensor" mailer at [127.0.0.1]:SENSOR_PORT instead; with
# SENSOR_SENDER too, that mailer sends SENSOR_SENDER as the envelope sender
# (its S= ruleset; headers untouched).  Writes DIR/lab.mc and DIR/lab.cf; the
# queue is DIR/queue, the traffic log (-X) DIR/traffic.log.
sendmail_write_config() {
    local dir=$1 smtp_port=$2 milter_port=$3 sink_port=$4 sensor_port=${5:-}
    local sensor_sender=${6:-} name=${7:-sm.lab.test} envfrom=EnvFromSMTP bh_local bh_domain
    [[ -n "$SENDMAIL_ROOT" ]] || lab_die "sendmail_write_config: call sendmail_fetch first"
    mkdir -p "$dir/queue"
    chmod 700 "$dir/queue"
    : >"$dir/statistics"
    # m4 quotes are `...' : the template is a quoted heredoc, the @VARS@ are
    # substituted below (no shell expansion of backquotes).
    cat >"$dir/lab.mc.in" <<'EOF'
divert(-1)
# Generated by postfix-test/lib.sh (sendmail_write_config) -- private lab Sendmail
divert(0)dnl
include(`@ROOT@/usr/share/sendmail/cf/m4/cf.m4')dnl
VERSIONID(`authsense lab')dnl
OSTYPE(`linux')dnl
define(`confDOMAIN_NAME', `@NAME@')dnl
define(`confDONT_PROBE_INTERFACES', `True')dnl
define(`confDONT_BLAME_SENDMAIL', `GroupWritableDirPathSafe,TrustStickyBit')dnl
define(`QUEUE_DIR', `@DIR@/queue')dnl
define(`confPID_FILE', `@DIR@/sendmail.pid')dnl
define(`STATUS_FILE', `@DIR@/statistics')dnl
define(`ALIAS_FILE', `')dnl
define(`confHOST_STATUS_DIRECTORY', `')dnl
define(`confTO_IDENT', `0s')dnl
define(`confTO_CONNECT', `5s')dnl
define(`SMART_HOST', `esmtp:[127.0.0.1]')dnl
define(`ESMTP_MAILER_ARGS', `TCP $h @SINK_PORT@')dnl
FEATURE(`nocanonify')dnl
FEATURE(`promiscuous_relay')dnl
FEATURE(`accept_unresolvable_domains')dnl
DAEMON_OPTIONS(`Port=@SMTP_PORT@, Addr=127.0.0.1, Name=MTA-lab')dnl
INPUT_MAIL_FILTER(`authsense', `S=inet:@MILTER_PORT@@127.0.0.1, F=T, T=C:10s;S:10s;R:10s;E:30s')dnl
EOF
    if [[ -n "$sensor_port" ]]; then
        if [[ -n "$sensor_sender" ]]; then
            envfrom=EnvFromSensor
            bh_local=${sensor_sender%@*}
            bh_domain=${sensor_sender#*@}
        fi
        printf 'sensor.test\tsensor:[127.0.0.1]\n' >"$dir/mailertable.txt"
        # (every FEATURE must come before MAILER)
        cat >>"$dir/lab.mc.in" <<'EOF'
dnl --- copies for the sensor: mailertable routes sensor.test to the sensor mailer
FEATURE(`mailertable', `hash @DIR@/mailertable')dnl
MAILER(`smtp')dnl
MAILER_DEFINITIONS
Msensor,	P=[IPC], F=mDFMuXa, S=@ENVFROM@/HdrFromSMTP, R=EnvToSMTP, E=\r\n, L=990,
		T=DNS/RFC822/SMTP, A=TCP $h @SENSOR_PORT@
EOF
        if [[ -n "$sensor_sender" ]]; then
            cat >>"$dir/lab.mc.in" <<'EOF'
LOCAL_RULESETS
# envelope sender of the sensor mailer only: the black-hole return path
SEnvFromSensor
R$*			$@ @BH_LOCAL@ < @ @BH_DOMAIN@ . >
EOF
        fi
    else
        printf '%s\n' "MAILER(\`smtp')dnl" >>"$dir/lab.mc.in"
    fi
    sed -e "s|@ROOT@|$SENDMAIL_ROOT|g" -e "s|@DIR@|$dir|g" -e "s|@NAME@|$name|g" \
        -e "s|@SMTP_PORT@|$smtp_port|g" -e "s|@MILTER_PORT@|$milter_port|g" \
        -e "s|@SINK_PORT@|$sink_port|g" -e "s|@SENSOR_PORT@|${sensor_port:-0}|g" \
        -e "s|@ENVFROM@|$envfrom|g" -e "s|@BH_LOCAL@|${bh_local:-}|g" \
        -e "s|@BH_DOMAIN@|${bh_domain:-}|g" "$dir/lab.mc.in" >"$dir/lab.mc"
    rm -f "$dir/lab.mc.in"
    # promiscuous_relay prints a warning on stderr; keep it out of the output.
    m4 "$dir/lab.mc" >"$dir/lab.cf" 2>"$dir/m4.log" || { cat "$dir/m4.log" >&2; lab_die "m4 failed for $dir/lab.mc"; }
    if grep -v 'promiscuous_relay\|relay.  Do NOT use it' "$dir/m4.log" | grep -q .; then
        cat "$dir/m4.log" >&2
        lab_die "m4 reported errors for $dir/lab.mc"
    fi
    if [[ -n "$sensor_port" ]]; then
        "$SENDMAIL_ROOT/usr/libexec/sendmail/makemap" -C "$dir/lab.cf" hash "$dir/mailertable" \
            <"$dir/mailertable.txt" 2>"$dir/makemap.log" ||
            { cat "$dir/makemap.log" >&2; lab_die "makemap failed for $dir/mailertable"; }
    fi
}

# sendmail_start DIR: start the daemon of DIR/lab.cf in the foreground (-bD),
# in a private mount namespace whose /etc/hosts gives this host a FQDN:
# without one Sendmail sleeps 60 s at start.  Sets SENDMAIL_PID (registered
# for cleanup) and waits for the SMTP port (read from DIR/lab.mc).
sendmail_start() {
    local dir=$1 port host
    port=$(sed -n 's/^DAEMON_OPTIONS(`Port=\([0-9]*\),.*/\1/p' "$dir/lab.mc" | head -n1)
    [[ -n "$port" ]] || lab_die "no DAEMON_OPTIONS port in $dir/lab.mc"
    lab_require_free_port "$port" sendmail
    host=$(hostname 2>/dev/null || echo localhost)
    host=${host%%.*}
    printf '127.0.0.1 localhost\n127.0.0.1 %s.lab.test %s\n' "$host" "$host" >"$dir/hosts"
    # unshare (no --fork) execs sh, which execs sendmail: $! is Sendmail's PID.
    # shellcheck disable=SC2016  # $1..$4 are expanded by that sh
    unshare -m --propagation private sh -c 'mount --bind "$1" /etc/hosts && exec "$2" -C "$3" -bD -q1m -X "$4"' \
        sh "$dir/hosts" "$SENDMAIL_ROOT/usr/libexec/sendmail/sendmail" "$dir/lab.cf" "$dir/traffic.log" \
        >"$dir/sendmail.out" 2>&1 </dev/null &
    SENDMAIL_PID=$!
    lab_register_pid "$SENDMAIL_PID" sendmail
    lab_wait_port "$port" 100 "$SENDMAIL_PID" ||
        { cat "$dir/sendmail.out" >&2; lab_die "sendmail not listening on 127.0.0.1:$port"; }
}

# sendmail_queue_empty DIR: no queued message (qf file) left in DIR/queue.
sendmail_queue_empty() {
    ! compgen -G "$1/queue/qf*" >/dev/null
}

# lab_milter_elapsed LOG: one info line about the authsense milter's per-message
# time from MAIL FROM to end of message (its log's elapsed_us=), or nothing.
lab_milter_elapsed() {
    grep -ao 'elapsed_us=[0-9]*' "$1" 2>/dev/null | cut -d= -f2 | sort -n |
        awk '{ v[NR] = $1 } END { if (NR) printf "info: milter MAIL..EOM per message: min %.1f ms, median %.1f ms, max %.1f ms (%d messages)\n", v[1] / 1000, v[int((NR + 1) / 2)] / 1000, v[NR] / 1000, NR }'
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
    lab_wait_port "$port" 50 "$BLACKHOLE_PID" ||
        { cat "$LAB/blackhole-$port.log" >&2; lab_die "blackhole not listening on 127.0.0.1:$port"; }
}

# ------------------------------------------------------ PostgreSQL, NATS -----

# pg_start PORT: a private PostgreSQL cluster in $LAB/pg on 127.0.0.1:PORT
# (postfix-test/pg; trust auth, stopped by lab_cleanup).  Sets PG_URL.
pg_start() {
    local port=$1
    lab_require_free_port "$port" postgresql
    LAB_PG_DIRS+=("$LAB/pg")
    PG_URL=$("$LAB_LIB_DIR/pg" start "$LAB/pg" "$port") || lab_die "PostgreSQL did not start"
}

# nats_start PORT [DIR]: nats-server -js on 127.0.0.1:PORT (monitoring on
# PORT+1), JetStream store in DIR (default $LAB/nats; reuse it to restart with
# the same streams).  Sets NATS_URL and NATS_PID.
nats_start() {
    local port=$1 dir=${2:-$LAB/nats}
    lab_require_free_port "$port" nats-server
    NATS_URL=$("$LAB_LIB_DIR/nats" start "$dir" "$port") || lab_die "nats-server did not start"
    NATS_PID=$(cat "$dir/nats.pid")
    lab_register_pid "$NATS_PID" nats-server
}

# nats_stop: stop the nats-server started by nats_start.
nats_stop() {
    [[ -n "${NATS_PID:-}" ]] && lab_stop_pid "$NATS_PID" nats-server
}
