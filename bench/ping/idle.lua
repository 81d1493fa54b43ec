-- SPDX-License-Identifier: Apache-2.0
-- wrk script: realistic idle pings (every host already SERVING_BUILD of the current deploy) from N distinct hosts.
-- usage: wrk -s idle.lua URL -- N ENV_ID DEPLOY_ID TOKEN NTHREADS
local threads = {}

function setup(thread)
	thread:set("tid", #threads)
	table.insert(threads, thread)
end

function init(args)
	n = tonumber(args[1])
	env_id = args[2]
	deploy_id = args[3]
	nthreads = tonumber(args[5])
	wrk.method = "POST"
	wrk.headers["Authorization"] = "token " .. args[4]
	wrk.headers["Content-Type"] = "application/json"
	-- each thread walks its own share of the hosts, round robin
	nexthost = tid
end

function request()
	local h = nexthost
	nexthost = nexthost + nthreads
	if nexthost >= n then
		nexthost = tid
	end
	local body = string.format('{"hostId":"bench-%d","hostName":"bench-%d","hostIp":"10.0.0.1",' ..
		'"groups":["bench"],"agentVersion":"bench/1","reports":[{"envId":"%s","deployId":"%s",' ..
		'"deployAlias":null,"deployStage":"SERVING_BUILD","agentStatus":"SUCCEEDED","errorCode":0,' ..
		'"errorMessage":null,"failCount":0}]}', h, h, env_id, deploy_id)
	return wrk.format(nil, "/v1/system/ping", nil, body)
end

function done(summary, latency, requests)
	local non2xx = summary.errors.status
	io.write(string.format("RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d errors=%d non2xx=%d\n",
		summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
		summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, non2xx))
end
