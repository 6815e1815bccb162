-- wrk script for case 5: POST /v1/requests, each with its own child and
-- idempotency key (one open request per child, so a repeated child would
-- measure the 409 path instead of the work of a new case).
local counter = 0
local threads = 0
local run = tostring(os.time())
-- The bench's bearer token (intake:write), from the environment bench/run sets.
local auth = "Bearer " .. (os.getenv("SENDPATH_TOKEN") or "")

function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

function request()
  counter = counter + 1
  local id = run .. "-" .. tostring(tid) .. "-" .. tostring(counter)
  local body = '{"idempotency_key":"wrk-' .. id .. '",'
    .. '"requester":{"type":"parent","name":"Parent","email":"parent@example.org"},'
    .. '"child":{"given_name":"Wrk","family_name":"W' .. id .. '","date_of_birth":"2017-05-14"},'
    .. '"contact":{"name":"Parent","email":"parent@example.org","preferred_channel":"email","language":"en"},'
    .. '"school":{"urn":"123456","name":"Hillside Primary School"},'
    .. '"areas_of_need":["cognition_and_learning"],"received_date":"2026-11-23","consent_to_share":true}'
  return wrk.format("POST", nil, {["Content-Type"] = "application/json", ["Authorization"] = auth}, body)
end
