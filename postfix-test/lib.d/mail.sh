# shellcheck shell=bash
# Part of postfix-test/lib.sh (sourced by it): the e2e cases' messages, swaks,
# what arrives at the smtp-sink, and the checks of the milter's stamp and of
# its own Authentication-Results (in Python: harness/stamps.py, with
# python3-authres).  A case works in its directory $CD.

# hdr_from FROM: the From: address of a case whose envelope sender is FROM
# (for the null sender '<>': postmaster@lab.test).
hdr_from() {
    if [[ "$1" == "<>" ]]; then echo postmaster@lab.test; else printf '%s\n' "$1"; fi
}

# stamp_mailfrom FROM HELO: the smtp.mailfrom the milter reports (RFC 7208
# 2.4: postmaster@HELO for the null sender).
stamp_mailfrom() {
    if [[ "$1" == "<>" ]]; then printf 'postmaster@%s\n' "$2"; else printf '%s\n' "$1"; fi
}

# helo_spf HELO: the HELO identity's own spf result in the lab zone.
helo_spf() {
    case "$1" in
    mail.pass.lab.test) echo pass ;;
    mail.fail.lab.test) echo fail ;;
    mail.none.lab.test) echo none ;;
    *) echo "unknown-helo-$1" ;;
    esac
}

# case_trailer NAME MSGID_DOMAIN: how every case message ends: Date,
# Message-ID <NAME.PID@MSGID_DOMAIN>, X-E2E-Case: NAME and a short body.
case_trailer() {
    cat <<EOC
Date: Thu, 27 Nov 2025 12:00:00 +0000
Message-ID: <$1.$$@$2>
X-E2E-Case: $1
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

Test message for case $1.
EOC
}

# unfold_headers FILE: one line per header field (RFC 5322 unfolding: the line
# break is removed, the folding whitespace kept), CRs dropped, header block only.
unfold_headers() {
    awk '{ sub(/\r$/, "") }
         /^$/ { exit }
         /^[ \t]/ { if (n) cur = cur $0; next }
         { if (n) print cur; cur = $0; n = 1 }
         END { if (n) print cur }' "$1"
}

# body_of FILE: the body, CRs dropped, trailing empty lines dropped.
body_of() {
    awk '{ sub(/\r$/, "") }
         inbody { if ($0 == "") { blank++ } else { while (blank > 0) { print ""; blank-- } print } next }
         /^$/ { inbody = 1 }' "$1"
}

# sink_headers FILE: unfold_headers of a file dumped by smtp-sink, without
# the sink's pseudo-headers and its own Received: header.
sink_headers() {
    unfold_headers "$1" | awk 'skip_done { print; next }
         /^X-(Client-Addr|Client-Proto|Helo-Args|Mail-Args|Rcpt-Args):/ { next }
         /^Received: .*\(smtp-sink\)/ && !sink_rcvd { sink_rcvd = 1; next }
         { skip_done = 1; print }'
}

# prepare_case NAME KIND FROM: from the script's write_template NAME KIND FROM
# (header lines starting with "DEL " are forged headers the milter must
# delete; the marker is stripped before sending, continuation lines belong
# to the header above) writes $CD/template, sent.eml, expected.hdr (the
# unfolded headers to survive, in order), deleted.hdr and sent.body.
prepare_case() {
    write_template "$@" >"$CD/template"
    sed 's/^DEL //' "$CD/template" >"$CD/sent.eml"
    awk '/^$/ { exit }
         /^[ \t]/ { if (n) cur = cur $0; next }
         { if (n) print (del ? "D" : "K") cur
           del = sub(/^DEL /, ""); cur = $0; n = 1 }
         END { if (n) print (del ? "D" : "K") cur }' "$CD/template" >"$CD/split.hdr"
    sed -n 's/^K//p' "$CD/split.hdr" >"$CD/expected.hdr"
    sed -n 's/^D//p' "$CD/split.hdr" >"$CD/deleted.hdr"
    body_of "$CD/sent.eml" >"$CD/sent.body"
}

# swaks_send PORT HELO FROM RCPTS [SWAKS_ARGS...]: $CD/sent.eml to
# 127.0.0.1:PORT (RCPTS comma-separated); swaks's output in $CD/swaks.log,
# its exit status in $CD/swaks.rc.  Each reply may take LAB_SWAKS_TIMEOUT
# seconds (default 20), the whole run twice that.
swaks_send() {
    local port=$1 helo=$2 from=$3 rcpts=$4 t=${LAB_SWAKS_TIMEOUT:-20}
    shift 4
    timeout $((2 * t)) swaks --server "127.0.0.1:$port" --helo "$helo" --from "$from" \
        --to "$rcpts" --data "@$CD/sent.eml" --timeout "$t" "$@" >"$CD/swaks.log" 2>&1
    echo $? >"$CD/swaks.rc"
}

# check_stamp_authres VALUE RESULT MAILFROM HELO AUTHSERV_ID: the stamp's
# value read back by python3-authres; prints the problems, status 1 if any.
check_stamp_authres() {
    lab_py stamps stamp "$@" 2>&1
}

# check_our_ar AUTHSERV_ID MF_RESULT MAILFROM HELO_RESULT HELO CLIENT_IP AR_OUT FILE...:
# the milter's standard Authentication-Results in each FILE (a message, or
# unfolded header lines), see harness/stamps.py; its value goes to AR_OUT.
check_our_ar() {
    lab_py stamps our-ar "$@" 2>&1
}

# check_at_sink CASE NAME HELO FROM RESULT RECEIVED_ERE: the message of case
# NAME as the smtp-sink ($SINK_DIR) got it, against what prepare_case wrote
# in $CD: exactly one stamp, with the exact text, as the first header; with
# EXPECT_AR=1 (the default) our Authentication-Results second, agreeing with
# it; then the MTA's own Received: (matching RECEIVED_ERE); every other
# header unchanged and in order, the forged ones gone; the body untouched.
# One PASS/FAIL line for CASE.  The stamp's value is left in $CD/stamp, our
# Authentication-Results' in $CD/ar.
check_at_sink() {
    local label=$1 name=$2 helo=$3 from=$4 result=$5 received=$6 ar=${EXPECT_AR:-1}
    local mailfrom expected dumps n first second third stamp out why=() d=$CD/details
    : >"$d"
    mailfrom=$(stamp_mailfrom "$from" "$helo")
    expected="X-Agari-Authentication-Results: $AUTHSERV_ID; spf=$result smtp.mailfrom=$mailfrom smtp.helo=$helo"
    mapfile -t dumps < <(grep -lE "^X-E2E-Case: $name"$'\r?$' "$SINK_DIR"/* 2>/dev/null)
    if [[ ${#dumps[@]} -ne 1 ]]; then
        fail_case "$label" "expected 1 message at the sink, found ${#dumps[@]}"
        return
    fi
    cp "${dumps[0]}" "$CD/received.eml"
    sink_headers "$CD/received.eml" >"$CD/msg.hdr"
    n=$(grep -ci '^X-Agari-Authentication-Results:' "$CD/msg.hdr")
    [[ "$n" -eq 1 ]] || why+=("$n X-Agari-Authentication-Results headers (want exactly 1)")
    grep -Fxq -- "$expected" "$CD/msg.hdr" || why+=("no header line exactly '$expected'")
    # Both inserted at index 0, in the milter's order: the stamp first, our
    # Authentication-Results second, above the MTA's own Received:.
    first=$(sed -n 1p "$CD/msg.hdr")
    second=$(sed -n 2p "$CD/msg.hdr")
    third=$(sed -n 3p "$CD/msg.hdr")
    [[ "$ar" == 1 ]] || third=$second
    if [[ "$first" != X-Agari-Authentication-Results:* ]]; then
        why+=("stamp is not the first header")
    elif [[ "$ar" == 1 && "$second" != "Authentication-Results: $AUTHSERV_ID;"* ]]; then
        why+=("header after the stamp is not our Authentication-Results")
    elif [[ ! "$third" =~ $received ]]; then
        why+=("header after our Authentication-Results is not the MTA's Received:")
    fi
    stamp=$(grep -i -m1 '^X-Agari-Authentication-Results:' "$CD/msg.hdr" | sed 's/^[^:]*:[ \t]*//')
    printf '%s\n' "$stamp" >"$CD/stamp"
    if [[ -n "$stamp" ]] && ! out=$(check_stamp_authres "$stamp" "$result" "$mailfrom" "$helo" "$AUTHSERV_ID"); then
        why+=("$out")
    fi
    if [[ "$ar" == 1 ]] && ! out=$(check_our_ar "$AUTHSERV_ID" "$result" "$mailfrom" \
        "$(helo_spf "$helo")" "$helo" 127.0.0.1 "$CD/ar" "$CD/msg.hdr"); then
        why+=("$out")
    fi
    sink_rest_check why "$received" "$ar"
    diff -q "$CD/sent.body" <(body_of "$CD/received.eml") >/dev/null || why+=("body changed")
    if [[ ${#why[@]} -eq 0 ]]; then
        pass_case "$label"
    else
        {
            printf '%s\n' "${why[@]:1}"
            printf '%s\n' "expected: $expected" "headers at the sink (unfolded, sink pseudo-headers dropped):"
            sed 's/^/  /' "$CD/msg.hdr"
        } >"$d"
        fail_case "$label" "${why[0]}" "$d"
    fi
}

# sink_rest_check WHY_ARRAY RECEIVED_ERE EXPECT_AR: check_at_sink's headers
# other than the stamp, our Authentication-Results and the MTA's Received:
# ($CD/msg.hdr) against $CD/expected.hdr, and the forged ones
# ($CD/deleted.hdr) gone; reasons appended to the named array.
sink_rest_check() {
    local -n rest_why=$1
    local line before
    grep -viE '^X-Agari-Authentication-Results:' "$CD/msg.hdr" |
        awk -v ours="Authentication-Results: $AUTHSERV_ID;" -v ar="$3" 'ar == 1 && NR == 1 && index($0, ours) == 1 { next } { print }' |
        RE=$2 awk '!done && $0 ~ ENVIRON["RE"] { done = 1; next } { print }' >"$CD/rest.hdr"
    if ! diff -q "$CD/expected.hdr" "$CD/rest.hdr" >/dev/null; then
        before=${#rest_why[@]}
        while IFS= read -r line; do
            grep -Fxq -- "$line" "$CD/rest.hdr" || rest_why+=("header missing or altered: '$line'")
        done <"$CD/expected.hdr"
        while IFS= read -r line; do
            grep -Fxq -- "$line" "$CD/expected.hdr" || grep -Fxq -- "$line" "$CD/deleted.hdr" ||
                rest_why+=("unexpected header: '$line'")
        done <"$CD/rest.hdr"
        [[ ${#rest_why[@]} -gt $before ]] || rest_why+=("other headers reordered or duplicated")
    fi
    while IFS= read -r line; do
        if grep -Fxq -- "$line" "$CD/msg.hdr"; then rest_why+=("forged header not deleted: '$line'"); fi
    done <"$CD/deleted.hdr"
}
