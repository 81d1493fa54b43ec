#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# A stand-in for systemctl in the throwaway system of the docs tests (no init system runs there): daemon-reload,
# enable [--now], start, stop, restart and is-active for the units in /etc/systemd/system or /lib/systemd/system,
# run from their own [Service] lines (StateDirectory=, User=/Group=, WorkingDirectory=, UMask=, ExecStartPre=,
# ExecStart=). A unit's output goes to /var/log/UNIT.log (standing in for the journal), its pid to /run/UNIT.pid.
set -eu

unit_file() {
	for d in /etc/systemd/system /lib/systemd/system; do
		[ -f "$d/$1" ] && { echo "$d/$1"; return 0; }
	done
	echo "systemctl: unit $1 not found" >&2
	exit 5
}
key() { sed -n "s/^$2=//p" "$1" | tail -n 1; }

start() {
	u=$1 f=$(unit_file "$1")
	user=$(key "$f" User) group=$(key "$f" Group) wd=$(key "$f" WorkingDirectory) sd=$(key "$f" StateDirectory)
	mode=$(key "$f" StateDirectoryMode) umask=$(key "$f" UMask)
	if [ -n "$sd" ]; then
		install -d -m "${mode:-0755}" "/var/lib/$sd"
		[ -z "$user" ] || chown "$user:${group:-$user}" "/var/lib/$sd"
	fi
	as=""
	[ -z "$user" ] || as="setpriv --reuid=$user --regid=${group:-$user} --init-groups --"
	pre=$(key "$f" ExecStartPre)
	if [ -n "$pre" ] && ! (cd "${wd:-/}" && $as $pre) >>"/var/log/$u.log" 2>&1; then
		echo "systemctl: $u: ExecStartPre failed (/var/log/$u.log)" >&2
		exit 1
	fi
	(cd "${wd:-/}" && umask "${umask:-0022}" && exec setsid $as $(key "$f" ExecStart)) </dev/null >>"/var/log/$u.log" 2>&1 &
	echo $! >"/run/$u.pid"
}

stop() {
	[ -f "/run/$1.pid" ] || return 0
	pid=$(cat "/run/$1.pid")
	kill -TERM "$pid" 2>/dev/null || true
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
	rm -f "/run/$1.pid"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
now=false
case $cmd in
daemon-reload) exit 0 ;;
enable)
	[ "${1:-}" = --now ] && { now=true; shift; }
	for u in "$@"; do
		u=${u%.service}.service
		unit_file "$u" >/dev/null
		$now && start "$u"
	done ;;
start) for u in "$@"; do start "${u%.service}.service"; done ;;
stop) for u in "$@"; do stop "${u%.service}.service"; done ;;
restart) for u in "$@"; do stop "${u%.service}.service"; start "${u%.service}.service"; done ;;
is-active)
	u=${1%.service}.service
	[ -f "/run/$u.pid" ] && kill -0 "$(cat "/run/$u.pid")" 2>/dev/null && { echo active; exit 0; }
	echo inactive
	exit 3 ;;
*) echo "systemctl (docs test stand-in): $cmd is not supported" >&2; exit 1 ;;
esac
