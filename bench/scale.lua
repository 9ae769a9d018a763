-- wrk script of bench/scale.sh: bench/event.lua's request (the same 1 KiB event), but a run ingests a
-- fixed number of events instead of lasting a fixed time: after SCALE_EVENTS answers the thread stops
-- and creates the file SCALE_DONE, on which scale.sh sends wrk SIGINT (wrk then prints its figures at
-- once; it would otherwise sleep out its -d). Requests still in flight at the stop may be stored too:
-- scale.sh counts the store, not wrk. One thread only (wrk -t1): the count is per thread.
dofile(os.getenv("BENCH_DIR") .. "/event.lua")

local limit = tonumber(os.getenv("SCALE_EVENTS") or "")
local done_file = os.getenv("SCALE_DONE")
if not limit or limit < 1 or not done_file then
  error("SCALE_EVENTS or SCALE_DONE is not set")
end
local count_non202 = response
local answered = 0

function response(status, headers, body)
  count_non202(status, headers, body)
  answered = answered + 1
  if answered >= limit then
    wrk.thread:stop()
    io.open(done_file, "w"):close()
  end
end
