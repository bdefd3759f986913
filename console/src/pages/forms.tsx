// What the console's forms share: one action that is busy while it runs and says why it
// failed, and a <form> whose submit (a click or Enter) runs it instead of reloading the page.
import { ReactNode, useState } from "react";
import { why } from "../api";

/** An action run from a form: `busy` while it runs, its failure in `error` as a line a person
 * reads. `run` uses the action of the latest render, so it sees the form's current values;
 * what it is given goes to the action (a row's id, say). */
export function useAction<A extends unknown[]>(action: (...args: A) => Promise<void>) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const run = async (...args: A) => {
    setBusy(true);
    setError("");
    try {
      await action(...args);
    } catch (e) {
      setError(why(e));
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, setError, run };
}

/** A form whose submit runs `onSubmit`. */
export function SubmitForm({ onSubmit, children }: { onSubmit: () => void; children: ReactNode }) {
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        onSubmit();
      }}
    >
      {children}
    </form>
  );
}
