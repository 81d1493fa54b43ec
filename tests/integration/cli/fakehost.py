# SPDX-License-Identifier: Apache-2.0
# Shared by the CLI tests: builds, stages, and a host played by the test through POST /v1/system/ping
# (a scripted agent), so agent rows and deploy outcomes are reached deterministically and fast.


def publish(cli, name, commit):
    r = cli("build", "publish", "--name", name, "--repo", "acme/" + name, "--branch", "main", "--commit", commit,
            "--artifact-url", f"https://art.example/{name}/{commit}.tgz")
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def make_stage(cli, env, stage="prod", **settings):
    args = ["env", "create", f"{env}/{stage}", "--build-name", env]
    for k, v in settings.items():
        args += ["--set", f"{k}={v}"]
    r = cli(*args)
    assert r.returncode == 0, r.stderr


class FakeHost:
    """One host speaking the ping protocol: remembers its report per env and answers goals."""

    def __init__(self, server, host):
        self.server, self.host, self.reports = server, host, {}
        self.error_message, self.error_code = "scripted failure", 1  # what a failed step reports

    def ping(self, status_for_goal="SUCCEEDED"):
        body = {"hostId": self.host, "hostName": self.host, "hostIp": "127.0.0.1",
                "agentVersion": "test-agent/1", "reports": list(self.reports.values())}
        code, resp = self.server.api("POST", "/v1/system/ping", body)
        assert code == 200, resp
        goal = resp.get("deployGoal")
        if resp["opCode"] == "NOOP" or not goal:
            return None
        if resp["opCode"] == "DELETE":
            self.reports.pop(goal["envId"], None)
            return goal
        status = status_for_goal(goal) if callable(status_for_goal) else status_for_goal
        self.reports[goal["envId"]] = {"envId": goal["envId"], "deployId": goal["deployId"],
                                       "deployStage": goal["deployStage"], "agentStatus": status,
                                       "errorCode": 0 if status == "SUCCEEDED" else self.error_code,
                                       "errorMessage": None if status == "SUCCEEDED" else self.error_message,
                                       "failCount": 0}
        return goal

    def run_until_idle(self, limit=40, status_for_goal="SUCCEEDED"):
        for _ in range(limit):
            if self.ping(status_for_goal) is None:
                return
        raise AssertionError(f"{self.host} never became idle")


def stage_with_host(cli, server, env):
    """A stage whose one host already serves a first deploy, so the host has an agent row and
    counts in the next deploy's total from the start (a stage without rows succeeds at once)."""
    make_stage(cli, env)
    host = FakeHost(server, f"{env}-h1")
    assert cli("env", "capacity", "add", f"{env}/prod", "--host", host.host).returncode == 0
    r = cli("deploy", f"{env}/prod", "--build", publish(cli, env, "0000aaaa"))
    assert r.returncode == 0, r.stderr
    host.run_until_idle()
    return host
