#!/bin/sh
### BEGIN INIT INFO
# Provides:          m3-dummyd
# Required-Start:    $remote_fs
# Required-Stop:     $remote_fs
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: a sleeping daemon for mestral's tests
### END INIT INFO
# Keeps its pid in /run/m3-dummyd.pid; each reload appends a line to /run/m3-dummyd.reloads.
pidfile=/run/m3-dummyd.pid
running() { [ -f $pidfile ] && kill -0 "$(cat $pidfile)" 2>/dev/null; }
case "$1" in
  start) running || { setsid sleep 100000 >/dev/null 2>&1 </dev/null & echo $! > $pidfile; } ;;
  stop) running && kill "$(cat $pidfile)"; rm -f $pidfile ;;
  restart) "$0" stop; "$0" start ;;
  reload) running && echo reload >> /run/m3-dummyd.reloads ;;
  status) running && exit 0; exit 3 ;;
  *) echo "usage: $0 start|stop|restart|reload|status" >&2; exit 2 ;;
esac
