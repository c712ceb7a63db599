-- wrk script: send the same request body every time.
-- BENCH_METHOD, BENCH_CONTENT_TYPE and BENCH_BODY_FILE (environment) give method, Content-Type and body.
-- Creates use metadata.generateName, so every identical POST makes a new object.
local f = assert(io.open(os.getenv("BENCH_BODY_FILE"), "rb"))
wrk.body = f:read("*a")
f:close()
wrk.method = os.getenv("BENCH_METHOD") or "POST"
wrk.headers["Content-Type"] = os.getenv("BENCH_CONTENT_TYPE") or "application/json"
