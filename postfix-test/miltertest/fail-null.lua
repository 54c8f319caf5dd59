-- miltertest -s fail-null.lua -D socket=inet:PORT@127.0.0.1 -D mtdir=DIR
-- Null sender: SPF checks the HELO identity, postmaster@<helo>; the lab zone
-- gives mail.pass.lab.test "v=spf1 ip4:127.0.0.0/8 -all", so a 192.0.2.x
-- client fails.  A forged lower-case x-agari header with a foreign
-- authserv-id is deleted too; a foreign Authentication-Results is kept.
local C = dofile((mtdir or ".") .. "/common.lua")
local id = C.authserv_id
local conn = C.transaction({
    client_name = "client.example.test", client_ip = "192.0.2.20",
    helo = "mail.pass.lab.test", mailfrom = "<>",
    rcpts = { "<user@inbox.test>", "<other@inbox.test>" }, queue_id = "MTNULL01",
    headers = {
        { "From", "MAILER-DAEMON <postmaster@mail.pass.lab.test>" },
        { "To", "<user@inbox.test>" },
        { "x-agari-authentication-results", "other.example; spf=pass smtp.mailfrom=forged@y" },
        { "Authentication-Results", "other.example; spf=pass smtp.mailfrom=forged@kept" },
        { "Subject", "miltertest null sender" },
        { "Date", "Thu, 27 Nov 2025 12:00:00 +0000" },
        { "Message-ID", "<null@miltertest.lab.test>" },
    },
    body = "Delivery report.\r\n",
})
-- sent as "x-agari-authentication-results": deleted as the 1st X-Agari-Authentication-Results
C.expect_deleted(conn, "X-Agari-Authentication-Results", 1)
C.expect_kept(conn, "Authentication-Results", 1)
C.ok(not mt.eom_check(conn, MT_HDRCHANGE, "Authentication-Results"), "no change to any Authentication-Results")
C.expect_stamp(conn, id .. "; spf=fail smtp.mailfrom=postmaster@mail.pass.lab.test smtp.helo=mail.pass.lab.test")
C.expect_ar(conn, "fail", "postmaster@mail.pass.lab.test", "fail", "mail.pass.lab.test")
C.finish(conn, "fail-null")
