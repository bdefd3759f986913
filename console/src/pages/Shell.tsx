import { useEffect, useRef, useState } from "react";
import Alert from "@cloudscape-design/components/alert";
import Button from "@cloudscape-design/components/button";
import Header from "@cloudscape-design/components/header";
import SpaceBetween from "@cloudscape-design/components/space-between";
import StatusIndicator from "@cloudscape-design/components/status-indicator";
import { Terminal } from "@xterm/xterm";
import { FitAddon } from "@xterm/addon-fit";
import "@xterm/xterm/css/xterm.css";
import { call, why } from "../api";
import { go } from "../route";

/** A shell on `node`: StartSession as the signed-in user, then the server's browser
 * terminal socket (/v1/terminal/ID), opened with the session's token. */
export default function Shell({ node }: { node: string }) {
  const box = useRef<HTMLDivElement>(null);
  const [state, setState] = useState("Starting the session");
  const [ended, setEnded] = useState("");
  const [error, setError] = useState("");
  const [sessionId, setSessionId] = useState("");

  useEffect(() => {
    const term = new Terminal({ cursorBlink: true, fontSize: 14, convertEol: false, scrollback: 5000 });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(box.current!);
    fit.fit();
    let socket: WebSocket | null = null;
    let id = "";
    let closed = false;
    const encoder = new TextEncoder();
    const resize = () => {
      fit.fit();
      if (socket?.readyState === WebSocket.OPEN)
        socket.send(JSON.stringify({ type: "resize", cols: term.cols, rows: term.rows }));
    };
    window.addEventListener("resize", resize);
    call("ssm", "StartSession", { Target: node })
      .then((s) => {
        if (closed) return;
        id = s.SessionId;
        setSessionId(id);
        const scheme = window.location.protocol === "https:" ? "wss" : "ws";
        socket = new WebSocket(`${scheme}://${window.location.host}/v1/terminal/${encodeURIComponent(id)}`);
        socket.binaryType = "arraybuffer";
        socket.onopen = () => socket!.send(JSON.stringify({ TokenValue: s.TokenValue }));
        socket.onmessage = (m) => {
          if (typeof m.data !== "string") {
            term.write(new Uint8Array(m.data as ArrayBuffer));
            return;
          }
          const notice = JSON.parse(m.data);
          if (notice.type === "ready") {
            setState("Connected");
            resize();
            term.focus();
          } else if (notice.type === "exit") {
            setEnded(`The shell exited with code ${notice.code}.`);
          } else if (notice.type === "closed") {
            setEnded(notice.reason ? `The session ended: ${notice.reason}` : "The session ended.");
          } else if (notice.type === "error") {
            setError(notice.message);
          }
        };
        socket.onclose = () => setState("Disconnected");
        term.onData((d) => {
          if (socket?.readyState === WebSocket.OPEN) socket.send(encoder.encode(d));
        });
      })
      .catch((e) => setError(why(e)));
    return () => {
      closed = true;
      window.removeEventListener("resize", resize);
      socket?.close();
      if (id) call("ssm", "TerminateSession", { SessionId: id }).catch(() => {});
      term.dispose();
    };
  }, [node]);

  return (
    <SpaceBetween size="m">
      <Header
        variant="h1"
        description={sessionId ? `Session ${sessionId}` : undefined}
        info={<StatusIndicator type={state === "Connected" ? "success" : "in-progress"}>{state}</StatusIndicator>}
        actions={<Button onClick={() => go("/sessions")}>Terminate</Button>}
      >
        Shell on {node}
      </Header>
      {error && <Alert type="error">{error}</Alert>}
      {ended && <Alert type="info">{ended}</Alert>}
      <div className="terminal" ref={box} aria-label="Terminal" />
    </SpaceBetween>
  );
}
