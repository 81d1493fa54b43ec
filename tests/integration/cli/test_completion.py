# SPDX-License-Identifier: Apache-2.0
# `slipway completion bash|zsh|fish`: generated from the command tables; the bash one is run in bash.
import shutil
import subprocess

import pytest


def top_commands(cli):
    out = cli("--help").stdout.split("commands:\n", 1)[1].split("\n\n", 1)[0]
    return [ln.split()[0] for ln in out.splitlines()]


def complete_bash(script, words):
    """Run the bash completion function on a command line (the last word is being completed)."""
    prog = script + "\nCOMP_WORDS=(" + " ".join(f"'{w}'" for w in words) + f")\nCOMP_CWORD={len(words) - 1}\n" \
        "_slipway\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n"
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c", prog], capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    return sorted(x for x in r.stdout.split("\n") if x)


@pytest.mark.skipif(not shutil.which("bash"), reason="no bash")
def test_bash_completes_commands_and_subcommands(cli):
    r = cli("completion", "bash", token=None, use_env=False)
    assert r.returncode == 0, r.stderr
    script = r.stdout
    assert sorted(top_commands(cli)) == complete_bash(script, ["slipway", ""])
    assert complete_bash(script, ["slipway", "to"]) == ["token"]
    assert complete_bash(script, ["slipway", "build", "ta"]) == ["tag", "tags"]
    assert complete_bash(script, ["slipway", "config", ""]) == sorted(
        ["promote", "webhooks", "schedule", "capacity", "scripts", "agent"])
    assert complete_bash(script, ["slipway", "host", "re"]) == ["reset", "resume"]
    assert complete_bash(script, ["slipway", "role", ""]) == ["group", "user"]
    assert "--json" in complete_bash(script, ["slipway", "env", "list", "--j"])
    # a third level where a sub-command has its own
    assert complete_bash(script, ["slipway", "role", "user", ""]) == ["delete", "list", "set"]
    assert complete_bash(script, ["slipway", "env", "capacity", "a"]) == ["add"]
    assert complete_bash(script, ["slipway", "env", "show", ""]) == []


def test_zsh_and_fish_scripts(cli):
    commands = top_commands(cli)
    zsh = cli("completion", "zsh").stdout
    assert zsh.startswith("#compdef slipway\n") and "compdef _slipway slipway" in zsh
    fish = cli("completion", "fish").stdout
    for c in commands:
        assert f"'{c}:" in zsh, c
        assert f"-a {c} " in fish, c
    # a summary with a quote is escaped for each shell
    assert "group:role bindings of groups" in zsh
    assert "-a revoke -d 'revoke a token'" in fish
    assert "-a tags -d 'show a build\\'s effective tag and its own tags'" in fish
    assert "'tags:show a build'\\''s effective tag and its own tags'" in zsh
    assert "'delete:remove a user'\\''s role binding'" in zsh and '"role user")' in zsh
    assert ("-n '__fish_seen_subcommand_from role; and __fish_seen_subcommand_from group; and test (count "
            "(commandline -opc)) -eq 3' -a delete -d 'remove a group\\'s role binding'") in fish


def test_completion_bad_input(cli):
    r = cli("completion", "powershell")
    assert r.returncode == 64 and "unknown shell" in r.stderr
    assert cli("completion").returncode == 64
    assert cli("completion", "--help").stdout.startswith("usage: slipway completion")
