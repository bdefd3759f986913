#!/usr/bin/env bash
# `make run`: a server with the embedded store, plus an agent for this machine.
set -euo pipefail
BIN=${BIN:?}
DATA_DIR=${DATA_DIR:?}
LISTEN=${LISTEN:?}
AGENT_DIR="$DATA_DIR/agent"

"$BIN/steward" server --listen "$LISTEN" --data-dir "$DATA_DIR" &
SERVER=$!
AGENT=""
trap 'kill $SERVER $AGENT 2>/dev/null || true' EXIT INT TERM

for _ in $(seq 1 100); do
  if [ -f "$DATA_DIR/admin.env" ] && python3 -c "import urllib.request,sys; urllib.request.urlopen('http://$LISTEN/healthz')" 2>/dev/null; then
    break
  fi
  sleep 0.1
done

if [ ! -f "$AGENT_DIR/identity.json" ]; then
  read -r ACTIVATION_ID ACTIVATION_CODE < <(python3 "$(dirname "$0")/create-activation.py" "$DATA_DIR/admin.env" "$(hostname)")
  "$BIN/steward-agent" --state-dir "$AGENT_DIR" register --server "http://$LISTEN" --code "$ACTIVATION_CODE" --id "$ACTIVATION_ID"
fi
"$BIN/steward-agent" --state-dir "$AGENT_DIR" run 2>"$DATA_DIR/agent.log" &
AGENT=$!

cat <<TXT

Steward is running on http://$LISTEN (SQLite store in $DATA_DIR), with an agent for this machine
(its log: $DATA_DIR/agent.log). In another shell:

  . $DATA_DIR/admin.env
  aws ssm describe-instance-information
  aws ssm send-command --document-name AWS-RunShellScript --targets Key=InstanceIds,Values=* \\
      --parameters commands='uptime'
  aws ssm put-parameter --name /hello --type String --value world

Ctrl-C stops both.
TXT
wait $SERVER
