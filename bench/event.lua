-- wrk script: POST a 1024-byte JSON event to hookd's /v1/events and count responses that are not 202.
-- The same body and shape as the baseline's bench/event.lua (../shared/baseline/bench/event.lua), plus
-- the API key, taken from the environment (HOOKD_KEY) so that the file stays as it is.
local key = os.getenv("HOOKD_KEY")
if not key or key == "" then
  error("HOOKD_KEY is not set")
end

wrk.method = "POST"
wrk.path = "/v1/events"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. key
wrk.body = [[{"type":"invoice.paid","data":{"object":"invoice","id":"in_1PZk3c2eZvKYlo2C0uS1Xb7Q","status":"paid","currency":"usd","amount_due":12900,"amount_paid":12900,"amount_remaining":0,"customer":{"id":"cus_Q4f1nM0o2xYz","email":"billing@example.com","name":"Example Corp"},"subscription":"sub_1PZk3b2eZvKYlo2C8h0f3M2a","lines":[{"id":"il_1","description":"Pro plan (monthly)","amount":9900,"quantity":1,"period":{"start":1719792000,"end":1722470400}},{"id":"il_2","description":"Extra seats x3","amount":3000,"quantity":3,"period":{"start":1719792000,"end":1722470400}}],"billing_reason":"subscription_cycle","hosted_invoice_url":"https://pay.example.com/invoice/in_1PZk3c2eZvKYlo2C0uS1Xb7Q","metadata":{"order_ref":"ORD-2024-000123","region":"eu-west-1","note":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},"created":1719792000,"paid_at":1719792123}}]]

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  non202 = 0
end

function response(status, headers, body)
  if status ~= 202 then
    non202 = non202 + 1
  end
end

function done(summary, latency, requests)
  local n = 0
  for _, t in ipairs(threads) do
    n = n + t:get("non202")
  end
  io.write(string.format("non-202 responses: %d\n", n))
end
