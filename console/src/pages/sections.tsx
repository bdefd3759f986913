// What detail pages are built from: sections that each read for themselves, labelled fields,
// and the one way targets are written.
import { ReactNode, useEffect, useState } from "react";
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Container from "@cloudscape-design/components/container";
import Header from "@cloudscape-design/components/header";
import { callAll, why } from "../api";

/** One section's data: what was read, or why it could not be (each section asks for itself,
 * so a user refused one of them still sees the others). Until the new answer arrives the
 * last one stays on the page, so a section re-read every few seconds does not flicker. */
export function useSection<T>(read: () => Promise<T>, deps: unknown[]): { data?: T; error?: string } {
  const [state, setState] = useState<{ data?: T; error?: string }>({});
  useEffect(() => {
    // An answer to an older question (another node, another run) must not replace a newer one.
    let current = true;
    read()
      .then((data) => current && setState({ data }))
      .catch((e) => current && setState({ error: why(e) }));
    return () => {
      current = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  return state;
}

/** A full-page list read through every page of `operation` (at most `limit` items), with
 * why it could not be, and a way to read it again. */
export function useListing(
  service: string,
  operation: string,
  input: Record<string, unknown>,
  key: string,
  limit = 1000,
): { items: any[]; loading: boolean; error: string; reload: () => void } {
  const [items, setItems] = useState<any[]>([]);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState("");
  const reload = () => {
    setLoading(true);
    setError("");
    callAll(service, operation, input, key, limit)
      .then(setItems)
      .catch((e) => setError(why(e)))
      .finally(() => setLoading(false));
  };
  useEffect(reload, []);
  return { items, loading, error, reload };
}

export function Field({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div>
      <Box variant="awsui-key-label">{label}</Box>
      <div>{children || "-"}</div>
    </div>
  );
}

/** A titled box showing its content, or, when its call was refused, only why. */
export function Section({
  title,
  error,
  counter,
  description,
  children,
}: {
  title: string;
  error?: string;
  counter?: string;
  description?: string;
  children: ReactNode;
}) {
  return (
    <Container
      header={
        <Header variant="h2" counter={counter} description={description}>
          {title}
        </Header>
      }
    >
      {error ? <Alert type="warning">{error}</Alert> : children}
    </Container>
  );
}

/** SSM targets as one line: `tag:role = web; InstanceIds = i-1, i-2`. */
export function targetsText(targets: { Key?: string; Values?: string[] }[] | undefined): string {
  return (targets ?? []).map((t) => `${t.Key} = ${(t.Values ?? []).join(", ")}`).join("; ") || "-";
}
