-- SPDX-License-Identifier: Apache-2.0
-- wrk script: GET /healthz, the ceiling of the HTTP layer on this machine.
function done(summary, latency, requests)
	io.write(string.format("RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d errors=%d non2xx=%d\n",
		summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
		summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
		summary.errors.status))
end
