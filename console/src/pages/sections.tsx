// What detail pages are built from: sections that each read for themselves, labelled fields,
// and the one way targets are written.
import { ReactNode, useEffect, useState } from "react";
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Container from "@cloudscape-design/components/container";
import Header from "@cloudscape-design/components/header";
import Pagination from "@cloudscape-design/components/pagination";
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

/** Pages of a list read one at a time by NextToken (lists too long to read whole, like
 * inventory entries or the audit trail). `read` answers one page with the token of the page
 * after (`next`) and whatever else the page says. The tokens seen are kept, so pages already
 * passed can be read again; a new question (`deps`) starts again at its first page. */
export function useTokenPages<P extends { next?: string }>(
  read: (token: string | undefined) => Promise<P>,
  deps: unknown[],
): {
  page?: P;
  error?: string;
  loading: boolean;
  pageIndex: number;
  pagesKnown: number;
  goTo: (pageIndex: number) => void;
} {
  const question = JSON.stringify(deps);
  const first = { question, index: 0, tokens: [undefined] as (string | undefined)[] };
  const [position, setPosition] = useState(first);
  // Worked out while rendering, so the first read of a new question already asks for page 1
  // (an effect resetting the position would first read the old page of the new question).
  const at = position.question === question ? position : first;
  const [state, setState] = useState<{ read?: string; page?: P; error?: string }>({});
  const asked = `${question}#${at.index}`;
  useEffect(() => {
    let current = true;
    read(at.tokens[at.index])
      .then((page) => {
        if (!current) return;
        setState({ read: asked, page });
        // The token of the next page makes that page reachable.
        if (page.next && at.tokens.length === at.index + 1) {
          setPosition({ ...at, tokens: [...at.tokens, page.next] });
        }
      })
      .catch((e) => current && setState({ read: asked, error: why(e) }));
    return () => {
      current = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [asked]);
  const answered = state.read === asked;
  return {
    page: answered ? state.page : undefined,
    error: answered ? state.error : undefined,
    loading: !answered,
    pageIndex: at.index + 1,
    pagesKnown: at.tokens.length,
    goTo: (pageIndex) => setPosition({ ...at, index: Math.min(Math.max(pageIndex, 1), at.tokens.length) - 1 }),
  };
}

/** Pagination over the pages `useTokenPages` knows of: those read, and the next one when its
 * token was given. */
export function TokenPager({
  pages,
  label,
}: {
  pages: { pageIndex: number; pagesKnown: number; loading: boolean; goTo: (pageIndex: number) => void };
  label: string;
}) {
  return (
    <Pagination
      currentPageIndex={pages.pageIndex}
      pagesCount={pages.pagesKnown}
      disabled={pages.loading}
      onChange={({ detail }) => pages.goTo(detail.currentPageIndex)}
      ariaLabels={{
        paginationLabel: label,
        previousPageLabel: "Previous page",
        nextPageLabel: "Next page",
        pageLabel: (n) => `Page ${n}`,
      }}
    />
  );
}
