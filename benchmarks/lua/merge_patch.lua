-- wrk script: RFC 7386 merge patches that each change a label (so every patch is a real write,
-- not a no-op the server could skip).
local n = 0
local headers = { ["Content-Type"] = "application/merge-patch+json" }
request = function()
  n = n + 1
  return wrk.format("PATCH", nil, headers, '{"metadata":{"labels":{"bench-n":"' .. n .. '"}}}')
end
