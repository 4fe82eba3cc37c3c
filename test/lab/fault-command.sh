#!/bin/bash
# A netns lab host's ForceCommand (copied to DIR/hN/fault-command by netns-lab.sh up): runs the
# client's command as sshd itself would ($SHELL -c), unless a fault rule matches it. Tests write
# rules out of band, one file per rule in DIR/hN/faults/ (README.md, "Faults"); a rule fires
# once: whoever removes its file first owns it, so rules need no lock between connections.
#
#   NN.cut-before   REGEX   kill this SSH connection (its sshd processes) before the command runs
#   NN.cut-after    REGEX   run the command, then kill the connection before its exit status goes out
#   NN.hang         REGEX   run the command with `ip` and `docker` as processes that never end
#   NN.silent       REGEX   SIGSTOP this connection's sshd processes and this command: the host
#                           stops answering mid-session (pids in DIR/hN/faults.stopped)
#   NN.api-cut-before REGEX, NN.api-cut-after REGEX   the same around the Docker API request
#                           whose request line matches (fault-dial-stdio.js stands in for
#                           `docker system dial-stdio` while such a rule exists)
#
# The file holds REGEX (an ERE, matched against the command string as the client sent it).
set -u
hd=$1
node=$2
cmd=${SSH_ORIGINAL_COMMAND-}

run_command() {
  if [[ -z "${SSH_ORIGINAL_COMMAND+set}" ]]; then exec "$SHELL" -l; fi
  exec "$SHELL" -c "$cmd"
}

# The sshd processes of this connection (our sshd ancestors): on the netns lab the `sshd -i`
# that socat started; on a VM the session and its monitor (`sshd-session` since OpenSSH 9.8),
# never the listening daemon (whose parent is pid 1). Killing them closes the TCP connection.
connection_pids() {
  local pid=$PPID comm parent
  while [[ "$pid" -gt 1 ]]; do
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || break
    parent=$(awk '{print $4}' "/proc/$pid/stat" 2>/dev/null) || break
    [[ ("$comm" == sshd || "$comm" == sshd-session) && "$parent" != 1 ]] || break
    printf '%s ' "$pid"
    pid=$parent
  done
}

cut_connection() {
  # shellcheck disable=SC2046 # a list of pids
  kill -KILL $(connection_pids) 2>/dev/null
  exit 255
}

shopt -s nullglob
rules=("$hd"/faults/*.*)
((${#rules[@]})) || run_command

action="" api=0
for rule in "${rules[@]}"; do
  kind=${rule##*.}
  if [[ "$kind" == api-* ]]; then
    api=1
    continue
  fi
  pattern=$(<"$rule") 2>/dev/null || continue
  [[ "$cmd" =~ $pattern ]] || continue
  rm "$rule" 2>/dev/null || continue # another connection fired it first
  action=$kind
  break
done

case "$action" in
  cut-before) cut_connection ;;
  cut-after)
    "$SHELL" -c "$cmd"
    cut_connection
    ;;
  hang)
    export PATH="$hd/fault-bin:$PATH"
    run_command
    ;;
  silent)
    pids="$(connection_pids)$$"
    echo "$pids" >>"$hd/faults.stopped"
    # shellcheck disable=SC2086 # a list of pids
    kill -STOP $pids
    exit 255
    ;;
esac

if ((api)) && [[ "$cmd" == *"docker system dial-stdio" ]]; then
  [[ -x "$node" ]] || {
    echo "lab fault rules: node not found, cannot proxy the Docker API" >&2
    exit 1
  }
  exec "$node" "$hd/fault-dial-stdio.js" "$hd" "$(connection_pids)"
fi
run_command
