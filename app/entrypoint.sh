#!/bin/sh
# Entrypoint of the mestral reference app: HTTP on 3001 (busybox httpd serving
# /www) and a TCP echo listener on 6001 (stand-in for the websocket port).
# Either one is restarted if it dies; SIGTERM/SIGINT stop both and exit 0.

HTTP_PORT=3001
WS_PORT=6001
httpd_pid=
ws_pid=

start_httpd() {
    busybox httpd -f -p "$HTTP_PORT" -h /www &
    httpd_pid=$!
}

start_ws() {
    # -ll: keep listening after each connection; -e: one cat per connection.
    busybox nc -ll -p "$WS_PORT" -e /bin/cat &
    ws_pid=$!
}

stop() {
    kill "$httpd_pid" "$ws_pid" 2>/dev/null
    exit 0
}
trap stop TERM INT

start_httpd
start_ws
echo "mestral reference app: http on :$HTTP_PORT, tcp on :$WS_PORT"
while :; do
    kill -0 "$httpd_pid" 2>/dev/null || { echo "httpd died, restarting"; start_httpd; }
    kill -0 "$ws_pid" 2>/dev/null || { echo "tcp listener died, restarting"; start_ws; }
    # sleep in the background so a signal is handled at once
    sleep 2 &
    wait $!
done
