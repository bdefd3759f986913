import Alert from "@cloudscape-design/components/alert";
import FormField from "@cloudscape-design/components/form-field";
import Textarea from "@cloudscape-design/components/textarea";

/** The line a server error is about: the one it names ("at Line: 3, Column: 5"), else the
 * first line holding a value it quotes ("unknown action \"aws:nope\""). */
export function errorLine(message: string, content: string): number | null {
  const named = message.match(/line:?\s*(\d+)/i);
  if (named) return Number(named[1]);
  const lines = content.split("\n");
  for (const [, quoted] of message.matchAll(/"([^"]+)"/g)) {
    const at = lines.findIndex((l) => l.includes(quoted));
    if (at >= 0) return at + 1;
  }
  return null;
}

/** A document's content, and the server's refusal shown at the line it names. */
export default function Editor({
  value,
  onChange,
  error,
  readOnly,
}: {
  value: string;
  onChange?: (v: string) => void;
  error?: string;
  readOnly?: boolean;
}) {
  const line = error ? errorLine(error, value) : null;
  const lines = value.split("\n");
  return (
    <FormField label="Content" stretch>
      <Textarea
        value={value}
        rows={Math.min(30, Math.max(10, lines.length + 1))}
        readOnly={readOnly}
        spellcheck={false}
        ariaLabel="Document content"
        onChange={({ detail }) => onChange?.(detail.value)}
      />
      {error && (
        <Alert type="error" header={line ? `Line ${line}` : "The server refused the content"}>
          <div>{error}</div>
          {line && (
            <pre className="output" aria-label="Lines around the error">
              {lines
                .map((text, i) => ({ n: i + 1, text }))
                .filter(({ n }) => Math.abs(n - line) <= 2)
                .map(({ n, text }) => `${n === line ? "→" : " "} ${String(n).padStart(3)} | ${text}`)
                .join("\n")}
            </pre>
          )}
        </Alert>
      )}
    </FormField>
  );
}
