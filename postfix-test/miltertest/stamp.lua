-- miltertest -s stamp.lua -D socket=inet:PORT@127.0.0.1 -D mtdir=DIR
-- SPF pass from a TEST-NET client (lab zone: fail.lab.test is
-- "v=spf1 ip4:192.0.2.0/24 -all"), with a forged X-Agari-Authentication-Results
-- (index 1) and a forged Authentication-Results claiming our authserv-id
-- (index 2; the foreign one at index 1 must stay).
local C = dofile((mtdir or ".") .. "/common.lua")
local id = C.authserv_id
local conn = C.transaction({
    client_name = "client.example.test", client_ip = "192.0.2.10",
    helo = "mail.fail.lab.test", mailfrom = "<user@fail.lab.test>",
    rcpts = { "<user@inbox.test>" }, queue_id = "MTSTAMP1",
    headers = {
        { "X-Agari-Authentication-Results", id .. "; spf=fail smtp.mailfrom=forged@x smtp.helo=forged" },
        { "From", "Lab Sender <user@fail.lab.test>" },
        { "To", "<user@inbox.test>" },
        { "Authentication-Results", "other.example; spf=pass smtp.mailfrom=user@fail.lab.test" },
        { "Authentication-Results", id .. "; spf=pass smtp.mailfrom=forged@ar" },
        { "Subject", "miltertest stamp" },
        { "Date", "Thu, 27 Nov 2025 12:00:00 +0000" },
        { "Message-ID", "<stamp@miltertest.lab.test>" },
    },
    body = "Test body.\r\n",
})
C.expect_deleted(conn, "X-Agari-Authentication-Results", 1)
C.expect_deleted(conn, "Authentication-Results", 2)
C.expect_kept(conn, "Authentication-Results", 1)
C.expect_stamp(conn, id .. "; spf=pass smtp.mailfrom=user@fail.lab.test smtp.helo=mail.fail.lab.test")
-- the forged one above is gone; ours (mail.fail.lab.test: ip4:192.0.2.0/24) is inserted
C.expect_ar(conn, "pass", "user@fail.lab.test", "pass", "mail.fail.lab.test")
C.finish(conn, "stamp")
