-- Signed GitHub deliveries for wrk, each with a distinct X-GitHub-Delivery.
-- args: <list file: "event signature path" per line> <max requests per thread>
local bodies, counter, limit, prefix = {}, 0, 0, ""

function init(args)
  for line in io.lines(args[1]) do
    local event, sig, path = line:match("(%S+) (%S+) (%S+)")
    local f = io.open(path, "rb")
    table.insert(bodies, {event = event, sig = sig, body = f:read("*a")})
    f:close()
  end
  limit = tonumber(args[2])
  prefix = tostring(math.random(1, 1000000000)) .. "-" .. tostring(os.time())
end

function request()
  counter = counter + 1
  local b = bodies[(counter % #bodies) + 1]
  return wrk.format("POST", "/webhooks/github", {
    ["X-GitHub-Event"] = b.event,
    ["X-Hub-Signature-256"] = b.sig,
    ["X-GitHub-Delivery"] = prefix .. "-" .. counter,
    ["Content-Type"] = "application/json",
  }, b.body)
end

function response(status, headers, body)
  if counter >= limit then wrk.thread:stop() end
end
