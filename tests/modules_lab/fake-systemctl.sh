#!/bin/sh
# A stand-in for systemctl, bind-mounted over /usr/bin/systemctl inside one lab host only
# (its own mount namespace), so the systemd path of the service modules can run where no
# systemd does. A unit exists when /etc/systemd/system/UNIT.service does; its state lives
# in /run/fake-systemd; every call is logged to /run/fake-systemd/calls.
d=/run/fake-systemd
mkdir -p $d
echo "$*" >> $d/calls
unit() { echo "${1%.service}"; }
case "$1" in
  show)
    u=$(unit "$5")
    if [ -f "/etc/systemd/system/$u.service" ]; then echo loaded; else echo not-found; fi ;;
  is-active)
    u=$(unit "$2")
    if [ -f "$d/$u.active" ]; then echo active; else echo inactive; exit 3; fi ;;
  is-enabled)
    u=$(unit "$2")
    if [ -f "$d/$u.enabled" ]; then echo enabled; else echo disabled; exit 1; fi ;;
  start|restart|reload) touch "$d/$(unit "$2").active" ;;
  stop) rm -f "$d/$(unit "$2").active" ;;
  enable) touch "$d/$(unit "$2").enabled" ;;
  disable) rm -f "$d/$(unit "$2").enabled" ;;
  daemon-reload) ;;
  *) echo "fake systemctl: $*" >&2; exit 1 ;;
esac
