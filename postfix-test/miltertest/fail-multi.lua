-- miltertest -s fail-multi.lua -D socket=inet:PORT@127.0.0.1 -D mtdir=DIR
-- SPF fail for a normal sender (pass.lab.test allows only 127.0.0.0/8), with
-- two forged stamps in different spellings (indexes 1 and 2 among the
-- X-Agari-Authentication-Results fields, counted case-insensitively as
-- Sendmail and Postfix do) and a lookalike field name that must stay.
local C = dofile((mtdir or ".") .. "/common.lua")
local id = C.authserv_id
local conn = C.transaction({
    client_name = "unknown", client_ip = "192.0.2.30",
    helo = "mail.fail.lab.test", mailfrom = "<user@pass.lab.test>",
    rcpts = { "<user@inbox.test>" }, queue_id = "MTMULTI1",
    headers = {
        { "From", "<user@pass.lab.test>" },
        { "X-Agari-Authentication-Results", id .. "; spf=pass smtp.mailfrom=forged@one" },
        { "X-Agari-Authentication-Results-Copy", id .. "; spf=pass (lookalike: kept)" },
        { "X-AGARI-AUTHENTICATION-RESULTS", id .. "; spf=pass smtp.mailfrom=forged@two" },
        { "Subject", "miltertest fail" },
    },
})
C.expect_deleted(conn, "X-Agari-Authentication-Results", 1)
-- sent as "X-AGARI-AUTHENTICATION-RESULTS": the 2nd X-Agari-Authentication-Results
C.expect_deleted(conn, "X-Agari-Authentication-Results", 2)
C.ok(not mt.eom_check(conn, MT_HDRCHANGE, "X-Agari-Authentication-Results-Copy"), "lookalike field kept")
C.expect_stamp(conn, id .. "; spf=fail smtp.mailfrom=user@pass.lab.test smtp.helo=mail.fail.lab.test")
-- the HELO identity's own result: mail.fail.lab.test allows 192.0.2.0/24
C.expect_ar(conn, "fail", "user@pass.lab.test", "pass", "mail.fail.lab.test")
C.finish(conn, "fail-multi")
