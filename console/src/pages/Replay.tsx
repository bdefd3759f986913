import { useEffect, useRef, useState } from "react";
import Alert from "@cloudscape-design/components/alert";
import Button from "@cloudscape-design/components/button";
import Header from "@cloudscape-design/components/header";
import SpaceBetween from "@cloudscape-design/components/space-between";
import StatusIndicator from "@cloudscape-design/components/status-indicator";
import { Terminal } from "@xterm/xterm";
import "@xterm/xterm/css/xterm.css";
import { transcript, why } from "../api";
import { go } from "../route";

/** One asciicast v2 event: seconds since the start, its kind ("o" output, "i" input,
 * "r" resize as COLSxROWS), its data. */
type CastEvent = [number, string, string];

/** The longest pause a replay keeps: idle minutes play as a second. */
const MAX_PAUSE_MS = 1000;

function parse(cast: string): { width: number; height: number; events: CastEvent[] } {
  const [head, ...lines] = cast.split("\n").filter((l) => l.trim());
  const header = JSON.parse(head ?? "{}");
  const events = lines.flatMap((l) => {
    try {
      const e = JSON.parse(l);
      return Array.isArray(e) && e.length === 3 ? [e as CastEvent] : [];
    } catch {
      return []; // A line cut short (a transcript still being written) is skipped.
    }
  });
  return { width: header.width || 80, height: header.height || 24, events };
}

/** A recorded session played back in a terminal, at its own pace with long pauses cut. */
export default function Replay({ sessionId }: { sessionId: string }) {
  const box = useRef<HTMLDivElement>(null);
  const [state, setState] = useState("Loading the transcript");
  const [error, setError] = useState("");
  const [round, setRound] = useState(0);

  useEffect(() => {
    const term = new Terminal({ fontSize: 14, scrollback: 5000, disableStdin: true });
    term.open(box.current!);
    const timers: number[] = [];
    transcript(sessionId)
      .then((text) => {
        const { width, height, events } = parse(text);
        term.resize(width, height);
        setState("Playing");
        let at = 0;
        let last = 0;
        for (const [t, kind, data] of events) {
          at += Math.min(Math.max(t - last, 0) * 1000, MAX_PAUSE_MS);
          last = t;
          timers.push(
            window.setTimeout(() => {
              if (kind === "o") term.write(data);
              if (kind === "r") {
                const [cols, rows] = data.split("x").map(Number);
                if (cols > 0 && rows > 0) term.resize(cols, rows);
              }
            }, at),
          );
        }
        timers.push(window.setTimeout(() => setState("Finished"), at + 50));
      })
      .catch((e) => {
        setError(why(e));
        setState("Not available");
      });
    return () => {
      timers.forEach((t) => window.clearTimeout(t));
      term.dispose();
    };
  }, [sessionId, round]);

  return (
    <SpaceBetween size="m">
      <Header
        variant="h1"
        description="What the node sent, as recorded; pauses longer than a second play as one."
        info={<StatusIndicator type={state === "Finished" ? "success" : "in-progress"}>{state}</StatusIndicator>}
        actions={
          <SpaceBetween direction="horizontal" size="xs">
            <Button iconName="refresh" onClick={() => setRound((r) => r + 1)}>
              Replay again
            </Button>
            <Button onClick={() => go("/sessions")}>Back to sessions</Button>
          </SpaceBetween>
        }
      >
        Session {sessionId}
      </Header>
      {error && <Alert type="error">{error}</Alert>}
      <div className="terminal" ref={box} aria-label="Transcript" />
    </SpaceBetween>
  );
}
