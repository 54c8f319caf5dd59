-- Helpers for the miltertest(8) scripts in postfix-test/miltertest/ (loaded
-- with dofile(mtdir .. "/common.lua")).  miltertest plays the MTA; the milter
-- under test is a running `authsense milter` at the socket given with
-- -D socket=inet:PORT@127.0.0.1.
--
-- Every check prints "  ok   <what>" or "  FAIL <what>"; C.finish() raises a
-- Lua error (miltertest exits non-zero) if any check failed.

local C = {}
C.failures = 0
C.socket = socket or "inet:18894@127.0.0.1"
C.authserv_id = authserv_id or "mx.lab.test"
C.stamp_name = "X-Agari-Authentication-Results"
C.ar_name = "Authentication-Results"

function C.ok(cond, what)
    if cond then
        mt.echo("  ok   " .. what)
    else
        mt.echo("  FAIL " .. what)
        C.failures = C.failures + 1
    end
    return cond
end

-- C.fatal(msg): print, then raise.  miltertest exits 1 on a Lua error but
-- prints nothing about it, so the message must be echoed first.
function C.fatal(msg)
    mt.echo("  FATAL " .. msg)
    error(msg, 0)
end

-- C.must(err, what): mt.* calls return nil on success or an error string.
function C.must(err, what)
    if err ~= nil then
        C.fatal(what .. " failed: " .. tostring(err))
    end
end

-- C.call(what, f, ...): mt.* functions also raise Lua errors (bad state,
-- negotiated-away step): catch them, echo, fail.
function C.call(what, f, ...)
    local okcall, err = pcall(f, ...)
    if not okcall then
        C.fatal(what .. " raised: " .. tostring(err))
    end
    C.must(err, what)
end

-- C.reply(conn, what, nr_option): check the milter's reply to the last step,
-- unless the milter negotiated "no reply" (nr_option) for that step: then
-- miltertest reads nothing and mt.getreply would only repeat an old value.
function C.reply(conn, what, nr_option, want)
    want = want or SMFIR_CONTINUE
    if nr_option ~= nil and mt.test_option(conn, nr_option) then
        mt.echo("  --   " .. what .. ": no reply (negotiated)")
        return
    end
    local r = mt.getreply(conn)
    C.ok(r == want, string.format("%s: reply '%s' (want '%s')", what, string.char(r), string.char(want)))
end

-- C.step(conn, skip_opt, skip_name, what, nr_option, f, ...): one step of
-- the transaction, C.call(what, f, ...) then C.reply; skipped, as Sendmail
-- and Postfix skip it, when the milter negotiated skip_opt (SMFIP_NODATA…).
function C.step(conn, skip_opt, skip_name, what, nr_option, f, ...)
    if mt.test_option(conn, skip_opt) then
        mt.echo("  --   " .. what .. ": not sent (milter negotiated " .. skip_name .. ")")
        return
    end
    C.call("mt." .. what, f, conn, ...)
    C.reply(conn, what, nr_option)
end

-- C.transaction(t): negotiate, then one complete message up to EOM.
--   t.client_name, t.client_ip, t.helo, t.mailfrom ("<...>"), t.rcpts,
--   t.queue_id, t.headers = { {name, value}, ... }, t.body
-- Returns the connection, positioned after mt.eom().
function C.transaction(t)
    local okcall, conn = pcall(mt.connect, C.socket, 20, 0.1)
    if not okcall or conn == nil then
        C.fatal("mt.connect(" .. C.socket .. ") failed: " .. tostring(conn))
    end
    -- Offer everything libmilter knows (protocol version 6, all actions and
    -- steps), like Sendmail 8.14+ does; the milter picks what it wants.
    C.call("mt.negotiate", mt.negotiate, conn, nil, nil, nil)
    local opts = {}
    for _, o in ipairs({ "SMFIP_NOCONNECT", "SMFIP_NOHELO", "SMFIP_NOMAIL", "SMFIP_NORCPT",
        "SMFIP_NODATA", "SMFIP_NOHDRS", "SMFIP_NOEOH", "SMFIP_NOBODY", "SMFIP_NOUNKNOWN",
        "SMFIP_NR_CONN", "SMFIP_NR_HELO", "SMFIP_NR_MAIL", "SMFIP_NR_RCPT", "SMFIP_NR_DATA",
        "SMFIP_NR_HDR", "SMFIP_NR_EOH", "SMFIP_NR_BODY", "SMFIP_NR_UNKN", "SMFIP_SKIP",
        "SMFIP_HDR_LEADSPC" }) do
        if mt.test_option(conn, _G[o]) then opts[#opts + 1] = o end
    end
    mt.echo("  --   negotiated options: " .. (#opts > 0 and table.concat(opts, " ") or "(none)"))
    C.ok(mt.test_action(conn, SMFIF_ADDHDRS), "milter asked for SMFIF_ADDHDRS")
    C.ok(mt.test_action(conn, SMFIF_CHGHDRS), "milter asked for SMFIF_CHGHDRS")
    C.leadspc = mt.test_option(conn, SMFIP_HDR_LEADSPC)

    mt.macro(conn, SMFIC_CONNECT, "j", "mta.lab.test", "{daemon_name}", "miltertest",
        "{client_addr}", t.client_ip, "{client_name}", t.client_name)
    C.call("mt.conninfo", mt.conninfo, conn, t.client_name, t.client_ip)
    C.reply(conn, "connect", SMFIP_NR_CONN)
    C.call("mt.helo", mt.helo, conn, t.helo)
    C.reply(conn, "helo", SMFIP_NR_HELO)
    mt.macro(conn, SMFIC_MAIL, "i", t.queue_id or "MT0001", "{mail_addr}", t.mailfrom:gsub("^<(.*)>$", "%1"))
    C.call("mt.mailfrom", mt.mailfrom, conn, t.mailfrom)
    C.reply(conn, "mail from", SMFIP_NR_MAIL)
    -- like Sendmail and Postfix, skip the steps the milter opted out of
    if mt.test_option(conn, SMFIP_NORCPT) then
        mt.echo("  --   rcpt to: not sent (milter negotiated SMFIP_NORCPT)")
    else
        for _, r in ipairs(t.rcpts) do
            mt.macro(conn, SMFIC_RCPT, "{rcpt_addr}", r:gsub("^<(.*)>$", "%1"))
            C.call("mt.rcptto " .. r, mt.rcptto, conn, r)
            C.reply(conn, "rcpt to " .. r, SMFIP_NR_RCPT)
        end
    end
    C.step(conn, SMFIP_NODATA, "SMFIP_NODATA", "data", SMFIP_NR_DATA, mt.data)
    for _, h in ipairs(t.headers) do
        -- with HDR_LEADSPC the MTA passes the space after the colon too
        C.call("mt.header " .. h[1], mt.header, conn, h[1], (C.leadspc and " " or "") .. h[2])
        C.reply(conn, "header " .. h[1], SMFIP_NR_HDR)
    end
    -- mt.eoh raises an error if the milter negotiated SMFIP_NOEOH
    C.step(conn, SMFIP_NOEOH, "SMFIP_NOEOH", "eoh", SMFIP_NR_EOH, mt.eoh)
    C.step(conn, SMFIP_NOBODY, "SMFIP_NOBODY", "bodystring", SMFIP_NR_BODY, mt.bodystring,
        t.body or "test body\r\n")
    C.call("mt.eom", mt.eom, conn)
    local r = mt.getreply(conn)
    C.ok(r == SMFIR_ACCEPT or r == SMFIR_CONTINUE,
        string.format("eom: reply '%s' (want accept or continue)", string.char(r)))
    return conn
end

-- C.expect_stamp(conn, value): exactly one stamp, inserted at index 0 (the
-- top of the header block) with exactly this value; nothing appended (our
-- Authentication-Results is inserted too: C.expect_ar).
function C.expect_stamp(conn, value)
    local v = (C.leadspc and " " or "") .. value
    C.ok(mt.eom_check(conn, MT_HDRINSERT, C.stamp_name, v, 0),
        "stamp inserted at index 0 (SMFIR_INSHEADER): " .. C.stamp_name .. ": " .. value)
    local got = mt.getheader(conn, C.stamp_name, 0)
    if got ~= v then
        mt.echo("       first added/inserted " .. C.stamp_name .. ": " .. tostring(got))
    end
    C.ok(mt.getheader(conn, C.stamp_name, 1) == nil, "exactly one stamp added")
    C.ok(not mt.eom_check(conn, MT_HDRADD), "no header appended (SMFIR_ADDHEADER)")
end

-- C.expect_ar(conn, mailfrom_result, mailfrom, helo_result, helo): exactly one
-- standard Authentication-Results inserted at index 0 (add_authentication_results,
-- on by default), claiming our authserv-id, whose spf part is exactly
-- "spf=R smtp.mailfrom=M; spf=H smtp.helo=HELO" (pass the stamp's result,
-- smtp.mailfrom and smtp.helo so that both agree), followed by dkim, dmarc, arc
-- and iprev results.  The milter sends it before the stamp, both at index 0,
-- so the stamp ends up on top with this header directly below it; miltertest
-- cannot see the order across names (the Postfix and Sendmail harnesses check
-- the delivered order).
function C.expect_ar(conn, mailfrom_result, mailfrom, helo_result, helo)
    local got = mt.getheader(conn, C.ar_name, 0)
    local value = got
    if value ~= nil and C.leadspc then
        value = value:gsub("^ ", "", 1)
    end
    local spf = string.format("%s; spf=%s smtp.mailfrom=%s; spf=%s smtp.helo=%s;",
        C.authserv_id, mailfrom_result, mailfrom, helo_result, helo)
    C.ok(got ~= nil and mt.eom_check(conn, MT_HDRINSERT, C.ar_name, got, 0),
        C.ar_name .. " inserted at index 0 (SMFIR_INSHEADER): " .. tostring(value))
    C.ok(value ~= nil and value:sub(1, #spf) == spf, C.ar_name .. " spf part is exactly '" .. spf .. "'")
    for _, m in ipairs({ "dkim", "dmarc", "arc", "iprev" }) do
        C.ok(value ~= nil and value:find(";%s*" .. m .. "=%a") ~= nil, C.ar_name .. " has a " .. m .. "= result")
    end
    C.ok(mt.getheader(conn, C.ar_name, 1) == nil, "exactly one " .. C.ar_name .. " added")
end

-- C.expect_deleted(conn, name, index): SMFIR_CHGHEADER(name, index, "").
-- MT_HDRCHANGE with a value is checked without the index: miltertest 1.5.0
-- reads MT_HDRCHANGE's index from the value argument (eom_check, argument 4
-- instead of 5), so an index there never matches; MT_HDRDELETE checks the
-- index correctly.  miltertest compares header names case-sensitively
-- (strcmp), while Sendmail and Postfix match SMFIR_CHGHEADER names and count
-- indexes case-insensitively; authsense addresses every spelling under the
-- canonical name, so the checks use the canonical spelling.
function C.expect_deleted(conn, name, index)
    C.ok(mt.eom_check(conn, MT_HDRCHANGE, name, ""), "MT_HDRCHANGE " .. name .. " to an empty value")
    C.ok(mt.eom_check(conn, MT_HDRDELETE, name, index), "MT_HDRDELETE " .. name .. " index " .. index)
end

function C.expect_kept(conn, name, index)
    C.ok(not mt.eom_check(conn, MT_HDRDELETE, name, index), "kept: " .. name .. " index " .. index)
end

function C.finish(conn, name)
    C.call("mt.disconnect", mt.disconnect, conn)
    if C.failures > 0 then
        C.fatal(name .. ": " .. C.failures .. " check(s) failed")
    end
    mt.echo(name .. ": all checks passed")
end

return C
