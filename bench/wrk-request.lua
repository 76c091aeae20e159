-- bench/wrk-request.lua: wrk sends every request with the method, body and
-- headers given in the environment (wrk's command line has no option for a
-- body):
--   MZ_WRK_METHOD (default GET), MZ_WRK_BODY (default none),
--   MZ_WRK_AUTH (an Authorization header value, when the server wants one).
wrk.method = os.getenv("MZ_WRK_METHOD") or "GET"
local body = os.getenv("MZ_WRK_BODY")
if body and body ~= "" then
	wrk.body = body
	wrk.headers["Content-Type"] = "application/json"
end
local auth = os.getenv("MZ_WRK_AUTH")
if auth and auth ~= "" then
	wrk.headers["Authorization"] = auth
end
