-- Signed deliveries for wrk. args: <list file> <max requests per thread>
-- List lines: path TAB body-file TAB header: value [TAB header: value ...]
-- GitHub deliveries get a distinct X-GitHub-Delivery per request; Asana and
-- W&B ones (deduplicated by body) come as distinct pre-signed bodies.
local items, counter, limit, prefix = {}, 0, 0, ""

local function split(line)
  local out = {}
  for field in string.gmatch(line, "[^\t]+") do table.insert(out, field) end
  return out
end

function init(args)
  for line in io.lines(args[1]) do
    local f = split(line)
    local file = io.open(f[2], "rb")
    local headers = {}
    for i = 3, #f do
      local k, v = f[i]:match("^([^:]+):%s*(.*)$")
      headers[k] = v
    end
    table.insert(items, {path = f[1], body = file:read("*a"), headers = headers})
    file:close()
  end
  limit = tonumber(args[2])
  prefix = tostring(math.random(1, 1000000000)) .. "-" .. tostring(os.time())
end

function request()
  counter = counter + 1
  local item = items[(counter % #items) + 1]
  if item.path == "/webhooks/github" then
    item.headers["X-GitHub-Delivery"] = prefix .. "-" .. counter
  end
  return wrk.format("POST", item.path, item.headers, item.body)
end

function response(status, headers, body)
  if counter >= limit then wrk.thread:stop() end
end
